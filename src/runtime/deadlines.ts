/**
 * Deadlines without a timer each: every request and every query has one. A measured fast path
 * (bench/README.md); the plain equivalent is `AbortSignal.timeout(ms)` per deadline. Deadlines of one length expire in the order
 * they were set, so one timer — waiting for the oldest — watches them all. The timer is not
 * cleared when the last deadline is removed (a new timer for nearly every request cost more
 * than the rest of the queue); it is unref'd instead, so an idle queue never keeps the process
 * alive, wakes up once, finds nothing due and stops.
 *
 * @module
 */

/** A deadline set by {@link DeadlineQueue.add}. */
export interface Deadline {
  readonly at: number;
  readonly expire: () => void;
}

/** A pending deadline: a link in the queue's list, oldest first. */
interface Entry extends Deadline {
  prev: Entry | undefined;
  next: Entry | undefined;
  pending: boolean;
}

/**
 * Deadlines of one fixed length (`ms`), watched by a single timer that is armed again only
 * while some are pending. They are kept in a doubly linked list, oldest first: adding and
 * removing touch two neighbours and allocate nothing but the entry (a `Set` measured far
 * dearer: bench/README.md).
 *
 * @example
 * ```ts
 * const queue = new DeadlineQueue(30_000);
 * const deadline = queue.add(() => console.log("too late"));
 * queue.remove(deadline); // finished in time
 * ```
 */
export class DeadlineQueue {
  #oldest: Entry | undefined;
  #newest: Entry | undefined;
  #size = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires. */
  #timerAt = 0;

  constructor(readonly ms: number) {}

  /** Call `expire` unless {@link remove} is called within `ms`. */
  add(expire: () => void): Deadline {
    return this.addAt(Date.now() + this.ms, expire);
  }

  /**
   * Call `expire` at `at` (epoch ms, no later than `ms` from now) unless {@link remove} is
   * called first: for a deadline shared by several steps, such as a request's query budget.
   * Such deadlines are rarely the newest, so the entry is linked in from the newest end, a few
   * steps at most.
   */
  addAt(at: number, expire: () => void): Deadline {
    let before = this.#newest;
    while (before && before.at > at) before = before.prev;
    const entry: Entry = { at, expire, prev: before, next: undefined, pending: true };
    entry.next = before ? before.next : this.#oldest;
    if (entry.next) entry.next.prev = entry;
    else this.#newest = entry;
    if (before) before.next = entry;
    else this.#oldest = entry;
    this.#size++;
    if (this.#timer === undefined) this.#arm(at - Date.now());
    else if (at < this.#timerAt) {
      clearTimeout(this.#timer);
      this.#arm(at - Date.now());
    } else if (this.#size === 1) Deno.refTimer(this.#timer as unknown as number);
    return entry;
  }

  /**
   * Cancel a deadline (one that already expired or was removed is left alone); with none left,
   * the timer no longer keeps the process alive.
   */
  remove(deadline: Deadline): void {
    const entry = deadline as Entry;
    if (!entry.pending) return;
    this.#unlink(entry);
    if (this.#size === 0 && this.#timer !== undefined) {
      Deno.unrefTimer(this.#timer as unknown as number);
    }
  }

  /** Deadlines not yet expired nor removed. */
  get size(): number {
    return this.#size;
  }

  #unlink(entry: Entry): void {
    entry.pending = false;
    if (entry.prev) entry.prev.next = entry.next;
    else this.#oldest = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.#newest = entry.prev;
    entry.prev = entry.next = undefined;
    this.#size--;
  }

  #arm(ms: number): void {
    this.#timerAt = Date.now() + Math.max(0, ms);
    this.#timer = setTimeout(() => this.#expireDue(), Math.max(0, ms));
  }

  #expireDue(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (let entry = this.#oldest; entry; entry = this.#oldest) {
      if (entry.at > now) {
        this.#arm(entry.at - now);
        return;
      }
      this.#unlink(entry);
      entry.expire();
    }
  }
}

/**
 * Settle like `promise`, or reject with `onTimeout()` once `queue.ms` have passed first.
 *
 * @example
 * ```ts
 * import { DeadlineQueue, raceDeadline } from "@/runtime/deadlines.ts";
 *
 * const queue = new DeadlineQueue(100);
 * await raceDeadline(Promise.resolve("done"), queue, () => new Error("too slow")); // "done"
 * const never = new Promise<string>(() => {});
 * await raceDeadline(never, queue, () => new Error("too slow")).catch((error) => error);
 * // rejects with Error("too slow") after 100 ms
 * ```
 */
export function raceDeadline<T>(
  promise: Promise<T>,
  queue: DeadlineQueue,
  onTimeout: () => unknown,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const deadline = queue.add(() => reject(onTimeout()));
    promise.then(
      (value) => {
        queue.remove(deadline);
        resolve(value);
      },
      (error) => {
        queue.remove(deadline);
        reject(error);
      },
    );
  });
}
