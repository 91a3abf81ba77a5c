/**
 * The app's two scopes, kept apart:
 *
 * - {@link AppDeps}: what the app is built on, created once (`createDeps`) and handed to each
 *   middleware, router and service when it is created — never put on the request context;
 * - {@link AppEnv}: the Hono environment, whose variables are this request's values only. Each
 *   middleware types what it sets; `AppEnv` is their sum.
 *
 * Read a variable with `c.get("user")`, never `c.var.user`: Hono's `c.var` builds a new object
 * of every variable (`Object.fromEntries`) on each access; `c.get` is one `Map` lookup.
 *
 * @module
 */
import type { Config } from "@/config.ts";
import type { Database } from "@/db/database.ts";
import type { AuthSession, AuthUser, Principal } from "@/http/principal.ts";
import type { Clock } from "@/runtime/clock.ts";
import type { Lifecycle } from "@/runtime/lifecycle.ts";
import type { Metrics } from "@/runtime/metrics.ts";
import type { PasswordHasher } from "@/runtime/passwords.ts";
import type { RateLimiter, RateLimitStatus } from "@/runtime/rate-limit/limiter.ts";

export type { AuthSession, AuthUser, Principal };
export type { RoleName } from "@/http/principal.ts";

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

/** Set by `requestContext()`. */
export interface RequestVariables {
  requestId: string;
  clientIp: string;
}

/** Set by `queryBudget()`: the request's view of the database, drawing on its own budget. */
export interface DatabaseVariables {
  db: Database;
}

/** Set by the bearer-auth middleware of routes that `requireAuth()`. */
export interface PrincipalVariables {
  user?: AuthUser;
  /** The caller and what its credential allows. */
  principal?: Principal;
  /** Set for first-party session tokens only. */
  session?: AuthSession;
}

/** Set by `versionGate()` for a request that names its client version. */
export interface VersionVariables {
  apiVersion?: string;
}

/** Set by the rate limits: each limit this request was counted against (`RateLimit` headers). */
export interface RateLimitVariables {
  rateLimits?: RateLimitStatus[];
}

/** The Hono environment of the app: the sum of what its middleware set. */
export interface AppEnv {
  Variables:
    & RequestVariables
    & DatabaseVariables
    & PrincipalVariables
    & VersionVariables
    & RateLimitVariables;
}
