/**
 * Rate-limit counters in Redis, shared by every instance of the service: one atomic Lua script
 * per hit (INCR, and PEXPIRE when the window opens). Never makes a request wait on a sick
 * Redis: no offline queue (commands fail at once while disconnected), no retries, a short
 * command timeout; the limiter then falls back to its in-process store.
 *
 * @module
 */
import { Redis } from "ioredis";
import { getAppLogger } from "@/lib/logger.ts";
import type { RateLimitStore, WindowState } from "@/lib/rate-limit/store.ts";

/** Counts a hit and returns `{count, ttl_ms}`; a key without expiry gets the window's. */
const INCREMENT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

/** Returns `{count, ttl_ms}` of an open window, or `{0, -2}` when there is none. */
const PEEK_SCRIPT = `
local count = redis.call('GET', KEYS[1])
if not count then return {0, -2} end
return {tonumber(count), redis.call('PTTL', KEYS[1])}
`;

/** Connection problems are logged at most this often (a down Redis reconnects every 2 s). */
const ERROR_LOG_INTERVAL_MS = 30_000;

/** Options of {@link RedisRateLimitStore}. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL. */
  url: string;
  /** Prepended to every key (e.g. `items-api:`); the store adds `rl:`. */
  keyPrefix: string;
  /** Longest a command may take before it fails (default 250 ms). */
  commandTimeoutMs?: number;
  /** Longest a connection attempt may take (default 1000 ms). */
  connectTimeoutMs?: number;
}

type RedisWithScript = Redis & {
  rateLimitIncrement(key: string, windowMs: number): Promise<[number, number]>;
  rateLimitPeek(key: string): Promise<[number, number]>;
};

/**
 * Fixed-window counters in Redis.
 *
 * @example
 * ```ts
 * const store = new RedisRateLimitStore({ url: "redis://127.0.0.1:6379", keyPrefix: "items-api:" });
 * await store.increment("api:u:42", 60_000);
 * await store.close();
 * ```
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly kind = "redis" as const;
  #redis: RedisWithScript;
  #prefix: string;

  constructor(options: RedisStoreOptions) {
    const log = getAppLogger("rate-limit", "redis");
    this.#prefix = `${options.keyPrefix}rl:`;
    const redis = new Redis(options.url, {
      connectTimeout: options.connectTimeoutMs ?? 1_000,
      commandTimeout: options.commandTimeoutMs ?? 250,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // Reconnect forever, at most every 2 s; commands fail fast meanwhile.
      retryStrategy: (times) => Math.min(times * 100, 2_000),
    });
    redis.defineCommand("rateLimitIncrement", { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    redis.defineCommand("rateLimitPeek", { numberOfKeys: 1, lua: PEEK_SCRIPT });
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

  async increment(key: string, windowMs: number): Promise<WindowState> {
    const [count, ttl] = await this.#redis.rateLimitIncrement(this.#prefix + key, windowMs);
    return { count: Number(count), resetMs: Number(ttl) };
  }

  async peek(key: string): Promise<WindowState | undefined> {
    const [count, ttl] = await this.#redis.rateLimitPeek(this.#prefix + key);
    if (Number(count) === 0 || Number(ttl) < 0) return undefined;
    return { count: Number(count), resetMs: Number(ttl) };
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
