/**
 * In-process rate-limit counters: the default store, and the fallback while Redis is down.
 * Same algorithm as the Redis script (see {@link ./store.ts}). Bounded: keys whose hits have
 * all left their window are swept at most once a minute, and beyond `maxKeys` the keys that
 * opened a slot longest ago are dropped, so a flood of distinct keys cannot grow memory
 * without bound.
 *
 * @module
 */
import type { Clock } from "@/runtime/clock.ts";
import {
  type Limit,
  type RateLimitStore,
  type SlidingState,
  slotMs,
} from "@/runtime/rate-limit/store.ts";

/** Default bound on the number of keys (about 100 bytes each, up to 400 for a busy key). */
export const DEFAULT_MAX_KEYS = 100_000;

/** How often keys with nothing counted are swept (the sweep walks every key once). */
const SWEEP_INTERVAL_MS = 60_000;

interface Entry {
  origin: number;
  slotMs: number;
  windowMs: number;
  /** Counted slots, oldest first, flat: `[index, hits, index, hits, ...]`. */
  slots: number[];
  total: number;
  /** When the newest slot leaves the window (nothing is counted from then on). */
  expiresAt: number;
}

/** Options of {@link MemoryRateLimitStore}. */
export interface MemoryStoreOptions {
  clock: Clock;
  maxKeys?: number;
}

/**
 * Sliding-window counters in a `Map`, timed by the injected clock.
 *
 * @example
 * ```ts
 * import { systemClock } from "@/runtime/clock.ts";
 *
 * const store = new MemoryRateLimitStore({ clock: systemClock });
 * const { admitted, count, waitMs } = await store.hit("api:a:203.0.113.9", {
 *   max: 600,
 *   windowMs: 60_000,
 * });
 * await store.close();
 * ```
 */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = "memory" as const;
  #entries = new Map<string, Entry>();
  #clock: Clock;
  #maxKeys: number;
  #nextSweepAt = 0;

  constructor(options: MemoryStoreOptions) {
    this.#clock = options.clock;
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** Keys held right now (for tests and diagnostics). */
  get size(): number {
    return this.#entries.size;
  }

  hit(key: string, limit: Limit): Promise<SlidingState> {
    const now = this.#clock.now().getTime();
    if (now >= this.#nextSweepAt) this.#sweep(now);
    let entry = this.#entries.get(key);
    if (entry !== undefined) prune(entry, now);
    if (entry !== undefined && entry.total < limit.max) {
      const last = entry.slots.length - 2;
      // Never before the newest slot, should the clock step back.
      const index = Math.max(
        entry.slots[last] ?? 0,
        Math.ceil((now - entry.origin) / entry.slotMs),
      );
      if (entry.slots[last] === index) {
        entry.slots[last + 1]!++;
      } else {
        entry.slots.push(index, 1);
        entry.expiresAt = entry.origin + index * entry.slotMs + entry.windowMs;
        // Re-inserting keeps the map in order of the newest slot, oldest first.
        this.#entries.delete(key);
        this.#entries.set(key, entry);
      }
      entry.total++;
      return Promise.resolve(standing(entry, limit.max, now, true));
    }
    if (entry === undefined) {
      entry = {
        origin: now,
        slotMs: slotMs(limit.windowMs),
        windowMs: limit.windowMs,
        slots: [0, 1],
        total: 1,
        expiresAt: now + limit.windowMs,
      };
      this.#entries.set(key, entry);
      if (this.#entries.size > this.#maxKeys) this.#evictOldest();
      return Promise.resolve(standing(entry, limit.max, now, true));
    }
    return Promise.resolve(standing(entry, limit.max, now, false));
  }

  peek(key: string, limit: Limit): Promise<SlidingState> {
    const now = this.#clock.now().getTime();
    const entry = this.#entries.get(key);
    if (entry === undefined) return Promise.resolve(empty(limit));
    prune(entry, now);
    return Promise.resolve(standing(entry, limit.max, now, entry.total < limit.max));
  }

  delete(key: string): Promise<void> {
    this.#entries.delete(key);
    return Promise.resolve();
  }

  ready(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(key);
    }
    this.#nextSweepAt = now + SWEEP_INTERVAL_MS;
  }

  #evictOldest(): void {
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxKeys) return;
      this.#entries.delete(key);
    }
  }
}

function empty(limit: Limit): SlidingState {
  return { admitted: limit.max > 0, count: 0, waitMs: limit.windowMs };
}

/**
 * Drop the slots that have left the window; with nothing left counted, the next hit starts
 * the key afresh (a new origin).
 */
function prune(entry: Entry, now: number): void {
  const { slots } = entry;
  let drop = 0;
  while (
    drop < slots.length && entry.origin + slots[drop]! * entry.slotMs + entry.windowMs <= now
  ) {
    entry.total -= slots[drop + 1]!;
    drop += 2;
  }
  if (drop > 0) slots.splice(0, drop);
  if (entry.total === 0) {
    entry.origin = now;
    slots.length = 0;
  }
}

function standing(entry: Entry, max: number, now: number, admitted: boolean): SlidingState {
  return { admitted, count: entry.total, waitMs: waitMs(entry, max, now) };
}

/** See {@link SlidingState.waitMs}: the time the oldest slots need to leave the window. */
function waitMs(entry: Entry, max: number, now: number): number {
  if (entry.total === 0) return entry.windowMs;
  const need = Math.max(1, entry.total - max + 1);
  const { slots } = entry;
  let freed = 0;
  for (let i = 0; i < slots.length; i += 2) {
    freed += slots[i + 1]!;
    if (freed >= need) return entry.origin + slots[i]! * entry.slotMs + entry.windowMs - now;
  }
  return entry.windowMs;
}
