/**
 * Deadlines without a timer each: every request and every query has one, and a timer per
 * deadline was a measurable share of their cost. Deadlines of one length expire in the order
 * they were set, so one timer — waiting for the oldest — watches them all.
 *
 * @module
 */

/** A deadline set by {@link DeadlineQueue.add}. */
export interface Deadline {
  readonly at: number;
  readonly expire: () => void;
}

/**
 * Deadlines of one fixed length (`ms`), watched by a single timer that only runs while some
 * are pending.
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
    return deadline;
  }

  /** Cancel a deadline; with none left, the timer stops too (nothing outlives the work). */
  remove(deadline: Deadline): void {
    this.#pending.delete(deadline);
    if (this.#pending.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
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
