/**
 * The Hono environment of the app, whose variables are this request's values only. Each
 * middleware types what it sets; {@link AppEnv} is their sum. What the app is built on lives
 * apart, in `AppDeps` (./app-deps.ts), and is never put on the request context.
 *
 * Read a variable with `c.get("user")`, never `c.var.user`: Hono's `c.var` builds a new object
 * of every variable (`Object.fromEntries`) on each access; `c.get` is one `Map` lookup.
 *
 * @module
 */
import type { Database } from "@/db/database.ts";
import type { AuthSession, AuthUser, Principal } from "@/http/principal.ts";
import type { RateLimitStatus } from "@/runtime/rate-limit/policy.ts";

export type { AuthSession, AuthUser, Principal };
export type { RoleName } from "@/http/principal.ts";

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
