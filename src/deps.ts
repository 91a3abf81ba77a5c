/**
 * `createDeps(config, overrides)`: builds the {@link OwnedDeps} the app runs on, once, for the
 * service (`main.ts`, the CLI's `serve`) and the tests alike. Each step that opens something
 * registers how to close it; a failing step closes what the earlier ones opened (in reverse
 * order) before the error goes on, and `close()` does the same on shutdown. The CLI's one-shot
 * commands take the subset they need from {@link createCommandDeps}.
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * import { parseConfig } from "@/config.ts";
 * import { createDeps } from "@/deps.ts";
 *
 * // The service parses the process environment (`loadConfig()`); here, in-memory SQLite.
 * const config = parseConfig({ APP_ENV: "test", DATABASE_URL: "sqlite::memory:" });
 * const deps = await createDeps(config);
 * try {
 *   const app = createApp(deps);
 *   const res = await app.request("/readyz"); // 200; `main.ts` serves `app.fetch`
 * } finally {
 *   await deps.close();
 * }
 * ```
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import type { Config } from "@/config.ts";
import type { Database } from "@/db/database.ts";
import { migrate } from "@/db/migrate.ts";
import { openDatabase } from "@/db/open.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { TokenAuthenticator } from "@/middleware/authenticator.ts";
import { VersionsCache } from "@/modules/versions/client-versions.ts";
import { type Clock, systemClock } from "@/runtime/clock.ts";
import { Lifecycle } from "@/runtime/lifecycle.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { createMetrics, type Metrics } from "@/runtime/metrics.ts";
import {
  choosePasswordBackend,
  NativeArgon2UnavailableError,
} from "@/runtime/password-backends.ts";
import {
  DEFAULT_ARGON2_PARAMS,
  defaultHashQueueLimit,
  hashQueueLimits,
  PasswordHasher,
} from "@/runtime/passwords.ts";
import { createRateLimiter } from "@/runtime/rate-limit/limiter.ts";
import { createApiKeyAuthenticator } from "@/modules/api-keys/api-key-authenticator.ts";
import { revokeUserApiKeys } from "@/modules/api-keys/api-keys.service.ts";
import { revokeUserSessions } from "@/modules/auth/auth.service.ts";
import { createSessionAuthenticator } from "@/modules/auth/session-authenticator.ts";
import { type OidcSetup, startOidc } from "@/modules/oidc/oidc.index.ts";
import { ensureBootstrapAdmin } from "@/modules/users/bootstrap-admin.ts";
import type { CredentialHooks } from "@/modules/users/users.service.ts";
import { type AuditLog, createAuditLog } from "@/modules/audit/audit.service.ts";
import { loadVersions } from "@/modules/versions/versions.service.ts";

/** What a caller may supply instead of what {@link createDeps} would build. */
export interface DepsOverrides {
  /** A database the caller opened (and closes): `close()` leaves it open. */
  db?: Database;
  clock?: Clock;
  passwords?: PasswordHasher;
  metrics?: Metrics;
  /** Asked before the built-in ones (for credentials a test or an extension adds). */
  authenticators?: readonly TokenAuthenticator[];
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
  /** Reload the versions table periodically (default true; tests reload by hand). */
  refreshVersions?: boolean;
  /** Create the bootstrap admin when none exists (default true). */
  bootstrapAdmin?: boolean;
}

/**
 * What users calls when an account's credentials must go: sessions (auth) and API keys depend
 * on users, so users is handed their operations here rather than importing them.
 */
export const CREDENTIAL_HOOKS: CredentialHooks = {
  revokeSessions: revokeUserSessions,
  revokeApiKeys: revokeUserApiKeys,
};

/** The dependencies of a running app, and the one way to release them. */
export interface OwnedDeps extends AppDeps {
  /** The in-memory versions table the `X-Version` gate reads. */
  readonly versions: VersionsCache;
  /**
   * The kinds of bearer credential this instance accepts, asked in order; the first that
   * accepts a token's shape decides.
   */
  readonly authenticators: readonly TokenAuthenticator[];
  /** The credential operations users is created with. */
  readonly credentials: CredentialHooks;
  /** Where privileged changes are recorded (the audit trail). */
  readonly auditLog: AuditLog;
  /** Provider JWTs (OIDC_ISSUER set): the key store and the authenticator over it. */
  readonly oidc: OidcSetup | undefined;
  /** Close everything opened here, newest first; safe to call more than once. */
  close(): Promise<void>;
}

/** What a one-shot CLI command runs on: the database and what writes to it, and `close()`. */
export interface CommandDeps extends Pick<AppDeps, "config" | "db" | "clock" | "passwords"> {
  /** The credential operations users is created with (break glass revokes sessions). */
  readonly credentials: CredentialHooks;
  /** Where the commands' changes are recorded (the audit trail). */
  readonly auditLog: AuditLog;
  /** Close the database; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * The password hasher on the backend PASSWORD_HASHER asks for (default: the native Argon2id
 * binding where it loads, else Web Crypto; the same hashes either way). A fallback is logged
 * with its reason; `native` that cannot load stops the start.
 */
async function passwordHasher(config: Config): Promise<PasswordHasher> {
  let choice;
  try {
    choice = await choosePasswordBackend(config.auth.passwordHasher);
  } catch (error) {
    if (!(error instanceof NativeArgon2UnavailableError)) throw error;
    throw new Error(`PASSWORD_HASHER=native: ${error.message}`, { cause: error });
  }
  if (choice.fallbackReason !== undefined) {
    getAppLogger().warning(
      "Password hashing through Web Crypto, several times slower per login: the native " +
        "Argon2id binding is not used ({reason})",
      { reason: choice.fallbackReason },
    );
  }
  return new PasswordHasher(
    config.auth.secretKey,
    DEFAULT_ARGON2_PARAMS,
    config.auth.hashConcurrency,
    hashQueueLimits(config.auth.hashQueueLimit ?? defaultHashQueueLimit(choice.backend.name)),
    choice.backend,
  );
}

/**
 * The dependencies of a one-shot CLI command (`migrate`, `create-admin`, `purge-tokens`, the
 * break-glass commands): the same database, clock and password hasher as {@link createDeps}
 * builds, without the service's caches, limiter, identity provider or bootstrap admin. With
 * `migrate`, pending migrations are applied first.
 */
export async function createCommandDeps(
  config: Config,
  options: { migrate?: boolean } = {},
): Promise<CommandDeps> {
  const db = await openDatabase(config.database);
  let closing: Promise<void> | undefined;
  const close = () => closing ??= db.close();
  try {
    if (options.migrate) await migrate(db);
    return {
      config,
      db,
      clock: systemClock,
      passwords: await passwordHasher(config),
      credentials: CREDENTIAL_HOOKS,
      auditLog: createAuditLog({ clock: systemClock }),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Build the app's dependencies; on any failure, what was opened is closed again. */
export async function createDeps(
  config: Config,
  overrides: DepsOverrides = {},
): Promise<OwnedDeps> {
  const log = getAppLogger();
  const closers: Array<[string, () => Promise<void>]> = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      for (const [name, closeOne] of closers.reverse()) {
        try {
          await closeOne();
        } catch (error) {
          log.warning("Could not close {name}: {error}", { name, error });
        }
      }
    })();

  try {
    const clock = overrides.clock ?? systemClock;
    let db = overrides.db;
    if (!db) {
      const opened = await openDatabase(config.database);
      closers.push(["database", () => opened.close()]);
      db = opened;
    }
    if (overrides.migrate ?? true) {
      const { applied } = await migrate(db);
      if (applied.length > 0) log.info("Applied migrations {applied}", { applied });
    }
    const passwords = overrides.passwords ?? await passwordHasher(config);
    const source = db;
    const versions = new VersionsCache({
      load: () => loadVersions(source),
      refreshMs: config.versionRefreshMs,
      clock,
    });
    closers.push(["versions cache", () => versions.stop()]);
    if (overrides.refreshVersions ?? true) await versions.start();
    else await versions.refresh();
    const poolOf = db;
    const metrics = overrides.metrics ??
      createMetrics({
        version: denoJson.version,
        poolStats: () => poolOf.stats(),
        passwordHashBackend: passwords.backend,
      });
    const rateLimiter = await createRateLimiter(config, { clock, metrics });
    closers.push(["rate limiter", () => rateLimiter.close()]);
    await rateLimiter.ready();
    // Provider JWTs: keys are fetched in the background, startup never waits for the provider.
    const oidc = startOidc(config, { clock });
    if (oidc) closers.push(["identity provider keys", () => Promise.resolve(oidc.keys.stop())]);
    const deps: OwnedDeps = {
      config,
      db,
      clock,
      passwords,
      lifecycle: new Lifecycle(),
      metrics,
      rateLimiter,
      versions,
      authenticators: [
        ...(overrides.authenticators ?? []),
        createApiKeyAuthenticator({ clock, metrics }),
        ...(oidc ? [oidc.authenticator] : []),
        createSessionAuthenticator({ clock }),
      ],
      credentials: CREDENTIAL_HOOKS,
      auditLog: createAuditLog({ clock, metrics }),
      oidc,
      close,
    };
    if (overrides.bootstrapAdmin ?? true) await ensureBootstrapAdmin(deps);
    return deps;
  } catch (error) {
    await close();
    throw error;
  }
}
