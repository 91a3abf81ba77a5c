/**
 * Deadlines without a timer each: every request and every query has one, and a timer per
 * deadline was a measurable share of their cost. Deadlines of one length expire in the order
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

/**
 * Deadlines of one fixed length (`ms`), watched by a single timer that is armed again only
 * while some are pending.
 *
 * @example
 * ```ts
 * const queue = new DeadlineQueue(30_000);
 * const deadline = queue.add(() => console.log("too late"));
 * queue.remove(deadline); // finished in time
 * ```
 */
export class DeadlineQueue {
  readonly #pending = new Set<Deadline>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly ms: number) {}

  /** Call `expire` unless {@link remove} is called within `ms`. */
  add(expire: () => void): Deadline {
    const deadline = { at: Date.now() + this.ms, expire };
    this.#pending.add(deadline);
    if (this.#timer === undefined) this.#arm(this.ms);
    else if (this.#pending.size === 1) Deno.refTimer(this.#timer as unknown as number);
    return deadline;
  }

  /** Cancel a deadline; with none left, the timer no longer keeps the process alive. */
  remove(deadline: Deadline): void {
    this.#pending.delete(deadline);
    if (this.#pending.size === 0 && this.#timer !== undefined) {
      Deno.unrefTimer(this.#timer as unknown as number);
    }
  }

  /** Deadlines not yet expired nor removed. */
  get size(): number {
    return this.#pending.size;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expireDue(), ms);
  }

  #expireDue(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (const deadline of this.#pending) {
      if (deadline.at > now) {
        this.#arm(deadline.at - now);
        return;
      }
      this.#pending.delete(deadline);
      deadline.expire();
    }
  }
}

/**
 * Settle like `promise`, or reject with `onTimeout()` once `queue.ms` have passed first.
 *
 * @example
 * ```ts
 * const queue = new DeadlineQueue(1_000);
 * await raceDeadline(fetch(url), queue, () => new Error("too slow"));
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
