/**
 * Rate-limit policies over a {@link RateLimitStore}, and what the service does when the store
 * fails: the hit is counted in an in-process fallback store instead (limits then hold per
 * instance rather than across instances), an error is logged (at most every 30 s, with the
 * number of failures) and `rate_limit_store_errors_total` grows; for the next second the store
 * is not asked at all. Requests are never let through unlimited, and never wait on a sick
 * Redis for more than one command timeout.
 *
 * @module
 */
import type { Clock } from "@/runtime/clock.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import type { Metrics } from "@/runtime/metrics.ts";
import { MemoryRateLimitStore } from "@/runtime/rate-limit/memory-store.ts";
import type { RateLimitStore, SlidingState } from "@/runtime/rate-limit/store.ts";
import {
  type RateLimitPolicy,
  rateLimitPolicy,
  type RateLimitStatus,
} from "@/runtime/rate-limit/policy.ts";

/** How often store failures are logged while they last. */
const FAILURE_LOG_INTERVAL_MS = 30_000;

/**
 * After a store failure, the store is left alone this long: a hanging Redis then costs one
 * command timeout per second per instance, not one per request.
 */
const STORE_RETRY_AFTER_MS = 1_000;

export {
  isExceeded,
  isUsedUp,
  rateLimitItem,
  type RateLimitPolicy,
  rateLimitPolicy,
  type RateLimitStatus,
  secondsUntilReset,
} from "@/runtime/rate-limit/policy.ts";

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  store: RateLimitStore;
  /** Counts hits while `store` fails; `store` itself when it is in memory. */
  fallback: MemoryRateLimitStore;
  metrics: Metrics;
  /** General limit per user (per client address when anonymous). */
  api: RateLimitPolicy;
  /** Limit per API key (instead of its owner's {@link RateLimiterOptions.api}). */
  apiKey: RateLimitPolicy;
  /** Login attempts per username and client address. */
  login: RateLimitPolicy;
  /** Login attempts per client address, whatever the username. */
  loginAddress: RateLimitPolicy;
  /** Failed token authentications per client address. */
  authFailure: RateLimitPolicy;
  /** Username changes per (non-admin) user. */
  rename: RateLimitPolicy;
}

/** The service's rate limits over one store. */
export class RateLimiter {
  readonly api: RateLimitPolicy;
  readonly apiKey: RateLimitPolicy;
  readonly login: RateLimitPolicy;
  readonly loginAddress: RateLimitPolicy;
  readonly authFailure: RateLimitPolicy;
  readonly rename: RateLimitPolicy;
  readonly store: RateLimitStore;
  #fallback: MemoryRateLimitStore;
  #metrics: Metrics;
  #log = getAppLogger("rate-limit");
  #failuresSinceLog = 0;
  #lastFailureLogAt = -Infinity;
  #skipStoreUntil = -Infinity;

  constructor(options: RateLimiterOptions) {
    this.store = options.store;
    this.#fallback = options.fallback;
    this.#metrics = options.metrics;
    this.api = options.api;
    this.apiKey = options.apiKey;
    this.login = options.login;
    this.loginAddress = options.loginAddress;
    this.authFailure = options.authFailure;
    this.rename = options.rename;
  }

  /** Count one hit on `key` under `policy`; never throws (see the module notes). */
  async hit(policy: RateLimitPolicy, key: string): Promise<RateLimitStatus> {
    const storeKey = `${policy.name}:${key}`;
    if (this.#useStore()) {
      try {
        return statusOf(policy, await this.store.hit(storeKey, policy));
      } catch (error) {
        this.#storeFailed(error);
      }
    }
    return statusOf(policy, await this.#fallback.hit(storeKey, policy));
  }

  /** `key`'s standing under `policy` without counting a hit; never throws. */
  async peek(policy: RateLimitPolicy, key: string): Promise<RateLimitStatus> {
    const storeKey = `${policy.name}:${key}`;
    let state;
    try {
      state = this.#useStore()
        ? await this.store.peek(storeKey, policy)
        : await this.#fallback.peek(storeKey, policy);
    } catch (error) {
      this.#storeFailed(error);
      state = await this.#fallback.peek(storeKey, policy);
    }
    return { policy, count: state.count, resetMs: state.waitMs };
  }

  /** Forget `key`'s hits under `policy` (in the store and the fallback). */
  async clear(policy: RateLimitPolicy, key: string): Promise<void> {
    const storeKey = `${policy.name}:${key}`;
    await this.#fallback.delete(storeKey);
    if (!this.#useStore()) return;
    try {
      await this.store.delete(storeKey);
    } catch (error) {
      this.#storeFailed(error);
    }
  }

  /**
   * Wait (at most `timeoutMs`) for the store to connect, so the first requests after startup
   * do not fall back; logs a warning and carries on when it does not.
   */
  async ready(timeoutMs = 2_000): Promise<void> {
    if (await this.store.ready(timeoutMs)) return;
    this.#log.warning(
      "Rate-limit store {store} is not reachable after {timeout_ms} ms; counting in this instance's memory until it is",
      { store: this.store.kind, timeout_ms: timeoutMs },
    );
  }

  /** Close the store (and the fallback). */
  async close(): Promise<void> {
    await this.store.close();
    if (this.store !== this.#fallback) await this.#fallback.close();
  }

  /** False for the in-memory store itself, and for a while after a store failure. */
  #useStore(): boolean {
    return this.store !== this.#fallback && performance.now() >= this.#skipStoreUntil;
  }

  #storeFailed(error: unknown): void {
    this.#skipStoreUntil = performance.now() + STORE_RETRY_AFTER_MS;
    this.#metrics.rateLimitStoreErrors.inc({ store: this.store.kind });
    this.#failuresSinceLog++;
    const now = performance.now();
    if (now - this.#lastFailureLogAt < FAILURE_LOG_INTERVAL_MS) return;
    this.#log.error(
      "Rate-limit store {store} failed {failures} time(s): {error}; counting in this instance's memory meanwhile",
      {
        store: this.store.kind,
        failures: this.#failuresSinceLog,
        error: error instanceof Error ? error.message : String(error),
      },
    );
    this.#lastFailureLogAt = now;
    this.#failuresSinceLog = 0;
  }
}

function statusOf(policy: RateLimitPolicy, state: SlidingState): RateLimitStatus {
  return {
    policy,
    count: state.admitted ? state.count : Math.max(state.count, policy.max) + 1,
    resetMs: state.waitMs,
  };
}

/** Every limit's budget and window (RATE_LIMIT_*). */
export interface RateLimitWindows {
  readonly loginMax: number;
  readonly loginWindowMs: number;
  /** Login attempts per client address (any username) per `loginWindowMs`. */
  readonly loginAddressMax: number;
  readonly apiMax: number;
  readonly apiWindowMs: number;
  /** Failed token authentications per client address per `authFailureWindowMs`. */
  readonly authFailureMax: number;
  readonly authFailureWindowMs: number;
  /** Username changes a non-admin may attempt per `renameWindowMs`. */
  readonly renameMax: number;
  readonly renameWindowMs: number;
  /** Requests per API key per `apiKeyWindowMs` (each key has its own budget). */
  readonly apiKeyMax: number;
  readonly apiKeyWindowMs: number;
}

/** The windows of every limit (RATE_LIMIT_*), and where counts are kept. */
export interface RateLimiterSettings {
  /** Redis for counts shared by every instance; unset: this process's memory. */
  readonly redisUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly rateLimit: RateLimitWindows;
}

/**
 * The limiter the configuration describes: Redis when `REDIS_URL` is set, memory otherwise.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@/config.ts";
 * import { systemClock } from "@/runtime/clock.ts";
 * import { createMetrics } from "@/runtime/metrics.ts";
 *
 * const config = parseConfig({ APP_ENV: "test" }); // no REDIS_URL: the memory store
 * const metrics = createMetrics({ version: "1.0.0" });
 * const limiter = await createRateLimiter(config, { clock: systemClock, metrics });
 * const status = await limiter.hit(limiter.api, "a:203.0.113.9");
 * await limiter.close();
 * ```
 */
export async function createRateLimiter(
  config: RateLimiterSettings,
  deps: { clock: Clock; metrics: Metrics },
): Promise<RateLimiter> {
  const memory = new MemoryRateLimitStore({ clock: deps.clock });
  const { rateLimit } = config;
  let store: RateLimitStore = memory;
  if (config.redisUrl) {
    // Loaded only when Redis is configured: the client is a sizable share of startup.
    const { RedisRateLimitStore } = await import("@/runtime/rate-limit/redis-store.ts");
    store = new RedisRateLimitStore({
      url: config.redisUrl,
      keyPrefix: config.redisKeyPrefix,
      clock: deps.clock,
    });
  }
  return new RateLimiter({
    store,
    fallback: memory,
    metrics: deps.metrics,
    api: rateLimitPolicy("api", rateLimit.apiMax, rateLimit.apiWindowMs),
    apiKey: rateLimitPolicy("api-key", rateLimit.apiKeyMax, rateLimit.apiKeyWindowMs),
    login: rateLimitPolicy("login", rateLimit.loginMax, rateLimit.loginWindowMs),
    loginAddress: rateLimitPolicy(
      "login-address",
      rateLimit.loginAddressMax,
      rateLimit.loginWindowMs,
    ),
    authFailure: rateLimitPolicy(
      "auth-failure",
      rateLimit.authFailureMax,
      rateLimit.authFailureWindowMs,
    ),
    rename: rateLimitPolicy("rename", rateLimit.renameMax, rateLimit.renameWindowMs),
  });
}
