/**
 * Answer 503 problem+json when a request takes longer than the configured limit, so a stuck
 * dependency never holds a client forever.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/lib/app-env.ts";
import { ServiceUnavailableError } from "@/lib/errors.ts";

interface Deadline {
  at: number;
  expire(): void;
}

/**
 * The deadlines of the requests in flight, watched by one timer instead of one per request
 * (a timer per request was a measurable share of a small request's cost). All deadlines have
 * the same length, so insertion order is deadline order: the timer waits for the oldest one.
 */
class Deadlines {
  readonly #pending = new Set<Deadline>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly timeoutMs: number) {}

  /** Track a request; `expire` runs if it is still tracked after `timeoutMs`. */
  add(expire: () => void): Deadline {
    const deadline = { at: Date.now() + this.timeoutMs, expire };
    this.#pending.add(deadline);
    if (this.#timer === undefined) this.#arm(this.timeoutMs);
    return deadline;
  }

  /** Stop tracking a request; with none left, the timer goes too (nothing outlives the load). */
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

/** Fail the request with 503 after `timeoutMs`. */
export function requestTimeout(timeoutMs: number): MiddlewareHandler<AppEnv> {
  const deadlines = new Deadlines(timeoutMs);
  return async function requestTimeout(_c, next) {
    let deadline: Deadline | undefined;
    const expired = new Promise<never>((_, reject) => {
      deadline = deadlines.add(() =>
        reject(new ServiceUnavailableError(`Request took longer than ${timeoutMs} ms`))
      );
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      deadlines.remove(deadline!);
    }
  };
}
