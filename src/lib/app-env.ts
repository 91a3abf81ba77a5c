/**
 * Types shared by the whole app: the dependencies `createApp` receives and the Hono `Env`
 * (`c.var`) every router, middleware and handler builds on.
 *
 * @module
 */
import type { Config } from "@/config.ts";
import type { Database } from "@/db/database.ts";
import type { Clock } from "@/lib/clock.ts";
import type { Lifecycle } from "@/lib/lifecycle.ts";
import type { PasswordHasher } from "@/lib/passwords.ts";

/** Everything the app needs from outside; tests build one over any database. */
export interface AppDeps {
  readonly config: Config;
  readonly db: Database;
  readonly clock: Clock;
  readonly passwords: PasswordHasher;
  readonly lifecycle: Lifecycle;
}

/** Role names, as seeded by the first migration. */
export type RoleName = "admin" | "user";

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
    session?: AuthSession;
    apiVersion?: string;
  };
}
