/**
 * Types shared by the whole app: the dependencies `createApp` receives and the Hono `Env`
 * (its context variables) every router, middleware and handler builds on.
 *
 * Read a variable with `c.get("deps")`, never `c.var.deps`: Hono's `c.var` builds a new object
 * of every variable (`Object.fromEntries`) on each access; `c.get` is one `Map` lookup.
 *
 * @module
 */
import type { Config } from "@/config.ts";
import type { RoleName } from "@/modules/roles/roles.ts";
import type { Principal, TokenAuthenticator } from "@/middleware/principal.ts";
import type { Database } from "@/db/database.ts";
import type { Clock } from "@/runtime/clock.ts";
import type { Lifecycle } from "@/runtime/lifecycle.ts";
import type { Metrics } from "@/runtime/metrics.ts";
import type { PasswordHasher } from "@/runtime/passwords.ts";
import type { RateLimiter, RateLimitStatus } from "@/runtime/rate-limit/limiter.ts";
import type { VersionsCache } from "@/modules/versions/client-versions.ts";

/** Everything the app needs from outside; tests build one over any database. */
export interface AppDeps {
  readonly config: Config;
  readonly db: Database;
  readonly clock: Clock;
  readonly passwords: PasswordHasher;
  readonly lifecycle: Lifecycle;
  /** Prometheus metrics of this instance (served on METRICS_PORT by `main.ts`). */
  readonly metrics: Metrics;
  /** Login and API rate limits (memory, or Redis when REDIS_URL is set). */
  readonly rateLimiter: RateLimiter;
  /** The in-memory versions table the `X-Version` gate reads. */
  readonly versions: VersionsCache;
  /**
   * The kinds of bearer credential this instance accepts, asked in order by `requireAuth()`;
   * the first that accepts a token's shape decides.
   */
  readonly authenticators: readonly TokenAuthenticator[];
}

export type { RoleName };

/** The authenticated caller, set by the bearer-auth middleware. */
export interface AuthUser {
  id: number;
  username: string;
  roleId: number;
  role: RoleName;
  activated: boolean;
}

/** The session (device) the caller's access token belongs to. */
export interface AuthSession {
  id: number;
  userId: number;
  lastUsedAt: Date;
}

/** The Hono environment of the app. */
export interface AppEnv {
  Variables: {
    deps: AppDeps;
    requestId: string;
    clientIp: string;
    user?: AuthUser;
    /** The caller and what its credential allows, set by `requireAuth()`. */
    principal?: Principal;
    /** Set for first-party session tokens only. */
    session?: AuthSession;
    apiVersion?: string;
    /** Rate limits this request was counted against, written as `RateLimit` headers. */
    rateLimits?: RateLimitStatus[];
  };
}
