/**
 * What the app is built on: created once (`createDeps`) and handed to each middleware, router
 * and service when it is created — never put on the request context (that is `AppEnv`'s, in
 * ./app-env.ts). A module names only the part it needs (`Pick<AppDeps, "clock">`).
 *
 * @module
 */
import type { Config } from "@/config.ts";
import type { Database } from "@/db/database.ts";
import type { Clock } from "@/runtime/clock.ts";
import type { Lifecycle } from "@/runtime/lifecycle.ts";
import type { Metrics } from "@/runtime/metrics.ts";
import type { PasswordHasher } from "@/runtime/passwords.ts";
import type { RateLimiter } from "@/runtime/rate-limit/limiter.ts";

/** What the app is built on; tests build one over any database. */
export interface AppDeps {
  readonly config: Config;
  /** The database itself; a request uses its own budgeted view, `c.get("db")`. */
  readonly db: Database;
  readonly clock: Clock;
  readonly passwords: PasswordHasher;
  readonly lifecycle: Lifecycle;
  /** Prometheus metrics of this instance (served on METRICS_PORT by `main.ts`). */
  readonly metrics: Metrics;
  /** Login and API rate limits (memory, or Redis when REDIS_URL is set). */
  readonly rateLimiter: RateLimiter;
}
