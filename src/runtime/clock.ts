/**
 * A source of the current time, injected so tests can move time without sleeping.
 *
 * @module
 */

/** Returns the current time. */
export interface Clock {
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock that only moves when told to; for tests of expiry.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
 * clock.advance(60_000);
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  constructor(start: Date = new Date()) {
    this.#now = start.getTime();
  }
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}
