/**
 * The storage behind rate limits, and the algorithm every store implements: a sliding window
 * counted in slots, conservatively, so that no window-length interval ever holds more than
 * `max` admitted hits (no bursts across a window edge, unlike fixed windows).
 *
 * - A key's slots start at its `origin` (its first hit while nothing is counted) and are
 *   `slotMs(windowMs)` long (1/{@link SLOTS_PER_WINDOW} of the window). An admitted hit at `t`
 *   is counted in slot `ceil((t - origin) / slotMs)`, i.e. as if it had come at that slot's
 *   start time or later, and is counted until that time plus `windowMs` — never shorter
 *   than its real age allows, at most one slot longer.
 * - A hit is admitted only while fewer than `max` hits are counted; refused hits are not
 *   counted (a client that keeps hammering still gets exactly `max` per window).
 * - So when a hit at `s` is admitted, every earlier admitted hit of the window-length
 *   interval that ends at `s` is still counted: at most `max` in any such interval.
 *
 * The state per key is the origin and at most `SLOTS_PER_WINDOW + 1` slot counters. The wait
 * a store reports is exact for that state: the time until the oldest slots have left the
 * window and a hit would be admitted (when the limit is used up), or until the count next
 * drops. Implementations: {@link ./memory-store.ts} (one process) and {@link ./redis-store.ts}
 * (one Lua script per call, shared by every instance).
 *
 * @module
 */

/** How finely a window is counted: the slot is this fraction of it. */
export const SLOTS_PER_WINDOW = 20;

/** The slot length for a window: 1/{@link SLOTS_PER_WINDOW} of it, whole milliseconds. */
export function slotMs(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / SLOTS_PER_WINDOW));
}

/** What a store limits a key to: at most `max` hits in any `windowMs`. */
export interface Limit {
  readonly max: number;
  readonly windowMs: number;
}

/** A key's standing after a hit (or a peek). */
export interface SlidingState {
  /** The hit was admitted and counted (for a peek: a hit now would be). */
  admitted: boolean;
  /** Hits counted in the window now, this one included when admitted. */
  count: number;
  /**
   * Milliseconds until a hit would be admitted when `count >= max`; otherwise until `count`
   * next drops (`windowMs` when nothing is counted).
   */
  waitMs: number;
}

/** Sliding-window counters keyed by string. */
export interface RateLimitStore {
  /** `memory` or `redis`; a metric label. */
  readonly kind: "memory" | "redis";
  /** Count one hit on `key` if `limit` admits it, and return the key's standing. */
  hit(key: string, limit: Limit): Promise<SlidingState>;
  /** `key`'s standing without counting a hit. */
  peek(key: string, limit: Limit): Promise<SlidingState>;
  /** Forget `key`'s hits (a successful login clears its failures). */
  delete(key: string): Promise<void>;
  /** Wait until the store can take commands, at most `timeoutMs`; false if it cannot yet. */
  ready(timeoutMs: number): Promise<boolean>;
  /** Release connections and timers. */
  close(): Promise<void>;
}
