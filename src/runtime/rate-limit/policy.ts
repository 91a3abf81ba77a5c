/**
 * A rate limit's policy and a key's standing under it, and how both are written in the
 * `RateLimit-Policy` and `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers).
 *
 * @module
 */

/** A named limit: at most `max` hits per key in any `windowMs` (a sliding window). */
export interface RateLimitPolicy {
  readonly name: string;
  readonly max: number;
  readonly windowMs: number;
  /** This policy as an item of the `RateLimit-Policy` header, e.g. `"api";q=600;w=60`. */
  readonly headerItem: string;
}

/** Define a policy (names are Structured Field strings: letters, digits, `-`, `_`). */
export function rateLimitPolicy(name: string, max: number, windowMs: number): RateLimitPolicy {
  if (!/^[a-z0-9_-]+$/.test(name)) throw new TypeError(`Cannot use policy name "${name}"`);
  return {
    name,
    max,
    windowMs,
    headerItem: `"${name}";q=${max};w=${Math.ceil(windowMs / 1000)}`,
  };
}

/** A key's standing under a policy after a hit. */
export interface RateLimitStatus {
  readonly policy: RateLimitPolicy;
  /** Hits counted in the window; `max + 1` for a refused hit (refused hits are not counted). */
  readonly count: number;
  /**
   * Milliseconds until another hit would be admitted when the limit is used up; otherwise
   * until the count next drops (see `SlidingState.waitMs` in ./store.ts).
   */
  readonly resetMs: number;
}

/** Whether the hit that produced `status` went over the limit. */
export function isExceeded(status: RateLimitStatus): boolean {
  return status.count > status.policy.max;
}

/** Whether a {@link RateLimiter.peek} status leaves no room for another hit. */
export function isUsedUp(status: RateLimitStatus): boolean {
  return status.count >= status.policy.max;
}

/**
 * Whole seconds (at least 1, rounded up) until `resetMs` has passed, for `Retry-After` and `t=`:
 * a retry after that many seconds is admitted.
 */
export function secondsUntilReset(status: RateLimitStatus): number {
  return Math.max(1, Math.ceil(status.resetMs / 1000));
}

/** `status` as an item of the `RateLimit` header, e.g. `"api";r=599;t=42`. */
export function rateLimitItem(status: RateLimitStatus): string {
  const remaining = Math.max(0, status.policy.max - status.count);
  return `"${status.policy.name}";r=${remaining};t=${secondsUntilReset(status)}`;
}
