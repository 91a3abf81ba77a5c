/**
 * The storage behind rate limits: fixed-window counters keyed by string. A window opens with
 * the first hit on a key and lasts `windowMs`; the next hit after it ends opens a new one.
 * Implementations: {@link ./memory-store.ts} (one process) and {@link ./redis-store.ts}
 * (shared by every instance).
 *
 * @module
 */

/** The state of one key's current window. */
export interface WindowState {
  /** Hits counted in the window, including this one. */
  count: number;
  /** Milliseconds until the window ends. */
  resetMs: number;
}

/** Fixed-window counters. */
export interface RateLimitStore {
  /** `memory` or `redis`; a metric label. */
  readonly kind: "memory" | "redis";
  /** Count one hit on `key` and return its window (opening one of `windowMs` if none is open). */
  increment(key: string, windowMs: number): Promise<WindowState>;
  /** `key`'s open window without counting a hit, or undefined when none is open. */
  peek(key: string): Promise<WindowState | undefined>;
  /** Forget `key`'s window (a successful login clears its failures). */
  delete(key: string): Promise<void>;
  /** Wait until the store can take commands, at most `timeoutMs`; false if it cannot yet. */
  ready(timeoutMs: number): Promise<boolean>;
  /** Release connections and timers. */
  close(): Promise<void>;
}
