/**
 * Rate-limit counters in Redis, shared by every instance of the service: one atomic Lua script
 * per hit or peek, the algorithm of {@link ./store.ts} over one hash per key (field `o` the
 * origin, the other fields slot index -> hits). Never makes a request wait on a sick Redis: no
 * offline queue (commands fail at once while disconnected), no retries, a short command
 * timeout; the limiter then falls back to its in-process store.
 *
 * The time comes from the caller's clock (instances keep theirs in step with NTP); a slot is
 * never placed before the key's newest one, so a clock a little behind counts conservatively.
 *
 * @module
 */
import { Redis } from "ioredis";
import type { Clock } from "@/runtime/clock.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import {
  type Limit,
  type RateLimitStore,
  type SlidingState,
  slotMs,
} from "@/runtime/rate-limit/store.ts";

/**
 * ARGV: max, window_ms, slot_ms, now_ms, 1 to count a hit (0 to peek).
 * Returns `{admitted (0|1), count, wait_ms}` (see SlidingState).
 */
const SLIDING_WINDOW_SCRIPT = `
local key = KEYS[1]
local max = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local slot = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local hit = ARGV[5] == '1'
local fields = redis.call('HGETALL', key)
local origin
for i = 1, #fields, 2 do
  if fields[i] == 'o' then origin = tonumber(fields[i + 1]) end
end
local slots, stale, total = {}, {}, 0
for i = 1, #fields, 2 do
  local name = fields[i]
  if name ~= 'o' then
    local index = tonumber(name)
    if origin and origin + index * slot + window > now then
      slots[#slots + 1] = {index, tonumber(fields[i + 1])}
      total = total + tonumber(fields[i + 1])
    else
      stale[#stale + 1] = name
    end
  end
end
if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
table.sort(slots, function(a, b) return a[1] < b[1] end)
local admitted = 0
if hit and total < max then
  if total == 0 then
    origin = now
    redis.call('HSET', key, 'o', origin)
  end
  local index = math.ceil((now - origin) / slot) + 0
  local newest = slots[#slots]
  if newest and newest[1] >= index then
    index = newest[1]
    newest[2] = newest[2] + 1
  else
    slots[#slots + 1] = {index, 1}
  end
  redis.call('HINCRBY', key, index, 1)
  redis.call('PEXPIRE', key, math.max(1, origin + index * slot + window - now))
  total = total + 1
  admitted = 1
elseif not hit and total < max then
  admitted = 1
end
local wait = window
if total > 0 then
  local need = math.max(1, total - max + 1)
  local freed = 0
  for i = 1, #slots do
    freed = freed + slots[i][2]
    if freed >= need then
      wait = origin + slots[i][1] * slot + window - now
      break
    end
  end
end
return {admitted, total, wait}
`;

/** Connection problems are logged at most this often (a down Redis reconnects every 2 s). */
const ERROR_LOG_INTERVAL_MS = 30_000;

/** Options of {@link RedisRateLimitStore}. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL. */
  url: string;
  /** Prepended to every key (e.g. `items-api:`); the store adds `rl:`. */
  keyPrefix: string;
  /** The time of every hit (the service's clock; tests move it). */
  clock: Clock;
  /** Longest a command may take before it fails (default 250 ms). */
  commandTimeoutMs?: number;
  /** Longest a connection attempt may take (default 1000 ms). */
  connectTimeoutMs?: number;
}

type RedisWithScript = Redis & {
  rateLimitSlidingWindow(
    key: string,
    max: number,
    windowMs: number,
    slotMs: number,
    nowMs: number,
    hit: 0 | 1,
  ): Promise<[number, number, number]>;
};

/**
 * Sliding-window counters in Redis.
 *
 * @example
 * (Not run: it needs a Redis server.)
 * ```ts ignore
 * const store = new RedisRateLimitStore({
 *   url: "redis://127.0.0.1:6379",
 *   keyPrefix: "items-api:",
 *   clock: systemClock,
 * });
 * await store.hit("api:u:42", { max: 600, windowMs: 60_000 });
 * await store.close();
 * ```
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly kind = "redis" as const;
  #redis: RedisWithScript;
  #prefix: string;
  #clock: Clock;

  constructor(options: RedisStoreOptions) {
    const log = getAppLogger("rate-limit", "redis");
    // "rls:", not the fixed windows' "rl:": their string keys would fail the hash commands.
    this.#prefix = `${options.keyPrefix}rls:`;
    this.#clock = options.clock;
    const redis = new Redis(options.url, {
      connectTimeout: options.connectTimeoutMs ?? 1_000,
      commandTimeout: options.commandTimeoutMs ?? 250,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // Reconnect forever, at most every 2 s; commands fail fast meanwhile.
      retryStrategy: (times) => Math.min(times * 100, 2_000),
    });
    redis.defineCommand("rateLimitSlidingWindow", { numberOfKeys: 1, lua: SLIDING_WINDOW_SCRIPT });
    let lastErrorLogAt = -Infinity;
    let failing = false;
    redis.on("error", (error: Error) => {
      failing = true;
      const now = performance.now();
      if (now - lastErrorLogAt < ERROR_LOG_INTERVAL_MS) return;
      lastErrorLogAt = now;
      log.warning("Redis connection problem: {error}", { error: error.message });
    });
    redis.on("ready", () => {
      if (failing) log.info("Redis connection restored");
      failing = false;
    });
    this.#redis = redis as RedisWithScript;
  }

  hit(key: string, limit: Limit): Promise<SlidingState> {
    return this.#run(key, limit, 1);
  }

  peek(key: string, limit: Limit): Promise<SlidingState> {
    return this.#run(key, limit, 0);
  }

  async #run(key: string, limit: Limit, hit: 0 | 1): Promise<SlidingState> {
    const [admitted, count, waitMs] = await this.#redis.rateLimitSlidingWindow(
      this.#prefix + key,
      limit.max,
      limit.windowMs,
      slotMs(limit.windowMs),
      this.#clock.now().getTime(),
      hit,
    );
    return { admitted: Number(admitted) === 1, count: Number(count), waitMs: Number(waitMs) };
  }

  async delete(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key);
  }

  ready(timeoutMs: number): Promise<boolean> {
    const redis = this.#redis;
    if (redis.status === "ready") return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        redis.off("ready", onReady);
        redis.off("error", onError);
        resolve(ok);
      };
      const onReady = () => done(true);
      // A refused connection will not turn ready within the timeout: do not wait for nothing.
      const onError = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      redis.on("ready", onReady);
      redis.on("error", onError);
    });
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}
