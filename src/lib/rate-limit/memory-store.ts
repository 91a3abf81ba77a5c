/**
 * In-process rate-limit counters: the default store, and the fallback while Redis is down.
 * Bounded: expired windows are swept at most once a minute, and beyond `maxKeys` the oldest
 * windows are dropped, so a flood of distinct keys cannot grow memory without bound.
 *
 * @module
 */
import type { Clock } from "@/lib/clock.ts";
import type { RateLimitStore, WindowState } from "@/lib/rate-limit/store.ts";

/** Default bound on the number of open windows (about 100 bytes each). */
export const DEFAULT_MAX_KEYS = 100_000;

/** How often expired windows are swept (the sweep walks every key once). */
const SWEEP_INTERVAL_MS = 60_000;

interface Window {
  count: number;
  resetAt: number;
}

/** Options of {@link MemoryRateLimitStore}. */
export interface MemoryStoreOptions {
  clock: Clock;
  maxKeys?: number;
}

/**
 * Fixed-window counters in a `Map`, timed by the injected clock.
 *
 * @example
 * ```ts
 * const store = new MemoryRateLimitStore({ clock: systemClock });
 * const { count, resetMs } = await store.increment("api:a:203.0.113.9", 60_000);
 * ```
 */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = "memory" as const;
  #windows = new Map<string, Window>();
  #clock: Clock;
  #maxKeys: number;
  #nextSweepAt = 0;

  constructor(options: MemoryStoreOptions) {
    this.#clock = options.clock;
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** Open windows right now (for tests and diagnostics). */
  get size(): number {
    return this.#windows.size;
  }

  increment(key: string, windowMs: number): Promise<WindowState> {
    const now = this.#clock.now().getTime();
    if (now >= this.#nextSweepAt) this.#sweep(now);
    let window = this.#windows.get(key);
    if (window === undefined || window.resetAt <= now) {
      // Re-inserting keeps the map in order of window start, oldest first.
      if (window !== undefined) this.#windows.delete(key);
      window = { count: 0, resetAt: now + windowMs };
      this.#windows.set(key, window);
      if (this.#windows.size > this.#maxKeys) this.#evictOldest();
    }
    window.count++;
    return Promise.resolve({ count: window.count, resetMs: window.resetAt - now });
  }

  peek(key: string): Promise<WindowState | undefined> {
    const window = this.#windows.get(key);
    const now = this.#clock.now().getTime();
    if (window === undefined || window.resetAt <= now) return Promise.resolve(undefined);
    return Promise.resolve({ count: window.count, resetMs: window.resetAt - now });
  }

  delete(key: string): Promise<void> {
    this.#windows.delete(key);
    return Promise.resolve();
  }

  ready(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    this.#windows.clear();
    return Promise.resolve();
  }

  #sweep(now: number): void {
    for (const [key, window] of this.#windows) {
      if (window.resetAt <= now) this.#windows.delete(key);
    }
    this.#nextSweepAt = now + SWEEP_INTERVAL_MS;
  }

  #evictOldest(): void {
    for (const key of this.#windows.keys()) {
      if (this.#windows.size <= this.#maxKeys) return;
      this.#windows.delete(key);
    }
  }
}
