/**
 * The only reader of the environment: parses every variable once with zod into a typed,
 * frozen {@link Config}, or fails with one message naming every bad variable.
 *
 * @module
 */
import type { RateLimitWindows } from "@/runtime/rate-limit/limiter.ts";
import { parseEnv } from "node:util";
import { z } from "zod";
import { parseDuration } from "@/runtime/duration.ts";
import type { PasswordHasherSetting } from "@/runtime/password-backends.ts";
import { lowEntropyReason } from "@/runtime/secret-strength.ts";
import { TrustedProxies } from "@/runtime/trusted-proxies.ts";

/** Where the service runs; production refuses unsafe defaults. */
export type AppEnvironment = "development" | "test" | "production";

/** Development-only pepper, used with a warning when SECRET_KEY is unset outside production. */
const DEV_SECRET_KEY = "items-api-development-secret-key-do-not-use-in-production";
const DEFAULT_DATABASE_URL = "sqlite:./data/items-api.db";
const DEV_ADMIN_PASSWORD = "admin";

/** Parsed, validated configuration. Frozen: nothing changes it after startup. */
export interface Config {
  readonly env: AppEnvironment;
  readonly http: {
    /** The API and metrics listeners' address (HOST): loopback unless production or set. */
    readonly host: string;
    readonly port: number;
    readonly metricsPort: number;
    readonly bodyLimitBytes: number;
    /** Writes (PATCH, DELETE) without `If-Match` are refused with 428 (REQUIRE_IF_MATCH). */
    readonly requireIfMatch: boolean;
    /** How long a create's answer is kept for a repeat with its `Idempotency-Key`. */
    readonly idempotencyTtlMs: number;
    readonly requestTimeoutMs: number;
    readonly shutdownTimeoutMs: number;
    /**
     * After a graceful shutdown on SIGTERM/SIGINT, end the process by that signal instead of
     * exiting 0 (EXIT_BY_SIGNAL; `deno task dev` sets it: its file watcher lives in the same
     * process and would outlive an exit, waiting for the next change).
     */
    readonly exitBySignal: boolean;
    /** Load shedding: requests worked on at once, waiting at most, and how long one waits. */
    readonly admission: {
      readonly maxInFlight: number;
      readonly queueLimit: number;
      readonly queueTimeoutMs: number;
    };
    /** Who may name the client in `X-Forwarded-For` (`TRUST_PROXY`); parsed once. */
    readonly trustProxy: TrustedProxies;
    readonly corsOrigins: readonly string[];
  };
  readonly database: {
    readonly url: string;
    readonly poolSize: number;
    readonly queueLimit: number;
    readonly queryTimeoutMs: number;
    /** Server-side limit on each list statement (MySQL); see README, Lists. */
    readonly listQueryTimeoutMs: number;
  };
  /**
   * Processes serving the API on this host (WORKERS; `auto`: the cores available). Above 1 the
   * process started by `serve` is the primary: it runs WORKERS child processes sharing PORT
   * (SO_REUSEPORT) and serves the summed `/metrics`. See docs/operations.md, "Workers".
   */
  readonly workers: number;
  /**
   * Set in a worker started by the primary (internal ITEMS_API_WORKER_* variables): its index
   * (0 schedules the purge cron) and the loopback port its JSON metrics listen on.
   */
  readonly worker: { readonly index: number; readonly metricsPort: number } | undefined;
  readonly redisUrl: string | undefined;
  /** Prefix of every key the service writes to Redis (several services may share one). */
  readonly redisKeyPrefix: string;
  readonly auth: {
    readonly secretKey: string;
    readonly accessTokenTtlMs: number;
    readonly refreshTokenTtlMs: number;
    readonly maxSessionsPerUser: number;
    /**
     * Password hashes allowed to wait for a hashing slot (a quarter of them per client);
     * undefined: by backend (32 on Web Crypto, 128 on the native binding).
     */
    readonly hashQueueLimit: number | undefined;
    /**
     * Argon2id hashes run at once by this process: (cores − 1) for the host, split across the
     * workers, at least 1 each.
     */
    readonly hashConcurrency: number;
    /** Where Argon2id runs (PASSWORD_HASHER): the native binding where it loads, or Web Crypto. */
    readonly passwordHasher: PasswordHasherSetting;
    /** API keys a user may hold at once (`POST /auth/api-keys` answers 409 beyond it). */
    readonly maxApiKeysPerUser: number;
  };
  readonly admin: { readonly username: string; readonly password: string | undefined };
  readonly rateLimit: RateLimitWindows;
  readonly docsAuth: "none" | "basic";
  readonly log: {
    readonly level: "debug" | "info" | "warning" | "error";
    readonly format: "pretty" | "json";
  };
  readonly versionRefreshMs: number;
  readonly tokenPurgeCron: string;
  /** How long audit events are kept before the purge job removes them (AUDIT_RETENTION). */
  readonly auditRetentionMs: number;
  /** Access tokens from an OpenID Connect provider; undefined when OIDC_ISSUER is unset. */
  readonly oidc: OidcConfig | undefined;
  /** Non-fatal findings (such as a development fallback in use), to be logged at startup. */
  readonly warnings: readonly string[];
}

/** Verification of provider access tokens (the OIDC_* variables). */
export interface OidcConfig {
  /** Expected `iss`, exactly; metadata from `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** A value the token's `aud` must contain. */
  readonly audience: string;
  /** Claim (a name, or a dot path such as `realm_access.roles`) holding the role names. */
  readonly rolesClaim: string;
  /** Role name in {@link OidcConfig.rolesClaim} that makes the caller an admin. */
  readonly adminRole: string;
  /** Claim the username of a new local user comes from (falling back to `sub`). */
  readonly usernameClaim: string;
  readonly clockToleranceMs: number;
  /** Longest a verification is trusted without checking the token again (`0`: never cached). */
  readonly maxTokenCacheTtlMs: number;
  /** Longest lifetime (`exp` − `iat`) a token may claim; longer ones are refused. */
  readonly maxTokenLifetimeMs: number;
}

/** Startup cannot continue: lists every bad variable and why. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

const duration = (fallback: string) =>
  z.string().default(fallback).transform((value, ctx) => {
    try {
      return parseDuration(value);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
      return z.NEVER;
    }
  });

const integer = (fallback: number, min: number, max: number) =>
  z.string().default(String(fallback)).transform((value, ctx) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      ctx.addIssue({
        code: "custom",
        message: `Cannot use "${value}": expected a whole number from ${min} to ${max}`,
      });
      return z.NEVER;
    }
    return n;
  });

/** A whole number from `min` to `max`, or undefined when unset (the caller picks the default). */
const optionalInteger = (min: number, max: number) =>
  z.string().optional().transform((value, ctx) => {
    if (value === undefined || value === "") return undefined;
    const parsed = integer(min, min, max).safeParse(value);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: "custom", message: issue.message });
    }
    return z.NEVER;
  });

const oneOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z.string().optional().transform((value, ctx) => {
    if (value === undefined || value === "") return undefined;
    if ((values as readonly string[]).includes(value)) return value as T;
    ctx.addIssue({
      code: "custom",
      message: `Cannot use "${value}": expected one of ${values.join(", ")}`,
    });
    return z.NEVER;
  });

const databaseUrl = z.string().optional().refine(
  (value) => value === undefined || value === "" || /^sqlite:.+/.test(value) || isMysqlUrl(value),
  { message: "Expected mysql://user:pass@host:3306/db, sqlite:<path> or sqlite::memory:" },
);

const origins = z.string().default("").transform((value, ctx) => {
  const list = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const origin of list) {
    if (!isOrigin(origin)) {
      ctx.addIssue({
        code: "custom",
        message: `Cannot use "${origin}": expected an origin such as https://app.example.com`,
      });
    }
  }
  return list;
});

const cronSchedule = z.string().default("0 * * * *").refine(
  (value) => value.trim().split(/\s+/).length === 5,
  { message: "Expected a five-field cron schedule such as 0 * * * *" },
);

/** `https://…`, or `http://` on a loopback host (a provider run locally for development). */
const issuerUrl = z.string().optional().refine(
  (value) => value === undefined || isIssuerUrl(value),
  {
    message:
      "Expected an https:// URL of at most 255 ASCII characters, without query or fragment " +
      "(http:// only on localhost)",
  },
);

const claimPath = (fallback: string) =>
  z.string().default(fallback).refine(
    (value) => /^[^\s.]+(?:\.[^\s.]+)*$/.test(value) || /^https?:\/\/\S+$/.test(value),
    { message: "Expected a claim name or a dot path such as realm_access.roles" },
  );

/**
 * HOST outside production: this machine only, so `deno task dev` (and its development admin)
 * is not reachable from the network; `HOST=0.0.0.0` exposes it. The container sets HOST itself.
 */
export const LOOPBACK_HOST = "127.0.0.1";
/** HOST in production: every address (behind the proxy or the container's network). */
export const EVERY_ADDRESS = "0.0.0.0";

const EnvSchema = z.object({
  APP_ENV: oneOf(["development", "test", "production"]),
  // Default by APP_ENV (see LOOPBACK_HOST): a development instance is not on the network.
  HOST: z.string().optional(),
  PORT: integer(8080, 1, 65535),
  WORKERS: z.string().default("1").transform((value, ctx) => {
    if (value.trim() === "auto") return availableCores();
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < 1 || n > 256) {
      ctx.addIssue({
        code: "custom",
        message: `Cannot use "${value}": expected auto or a whole number from 1 to 256`,
      });
      return z.NEVER;
    }
    return n;
  }),
  ITEMS_API_WORKER_INDEX: optionalInteger(0, 255),
  ITEMS_API_WORKER_METRICS_PORT: optionalInteger(1, 65535),
  METRICS_PORT: integer(8000, 0, 65535),
  DATABASE_URL: databaseUrl,
  DB_POOL_SIZE: integer(10, 1, 1000),
  DB_QUEUE_LIMIT: integer(200, 0, 100_000),
  DB_QUERY_TIMEOUT: duration("5s"),
  LIST_QUERY_TIMEOUT: duration("2s"),
  REDIS_URL: z.string().optional().refine(
    (value) => value === undefined || value === "" || /^rediss?:\/\/.+/.test(value),
    { message: "Expected redis://host:6379 or rediss://host:6379" },
  ),
  SECRET_KEY: z.string().optional(),
  ACCESS_TOKEN_TTL: duration("2h"),
  REFRESH_TOKEN_TTL: duration("30d"),
  MAX_SESSIONS_PER_USER: integer(10, 1, 1000),
  ADMIN_USERNAME: z.string().default("admin").refine(
    (value) => /^[A-Za-z0-9_.-]{3,64}$/.test(value),
    { message: "Expected 3 to 64 letters, digits, '_', '.' or '-'" },
  ),
  ADMIN_PASSWORD: z.string().optional(),
  CORS_ORIGINS: origins,
  TRUST_PROXY: z.string().default("false").transform((value, ctx) => {
    try {
      return TrustedProxies.parse(value);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
      return z.NEVER;
    }
  }),
  BODY_LIMIT_BYTES: integer(1_048_576, 1024, 104_857_600),
  REQUIRE_IF_MATCH: z.enum(["true", "false"], { message: 'Expected "true" or "false"' })
    .default("false").transform((value) => value === "true"),
  IDEMPOTENCY_TTL: duration("24h"),
  AUDIT_RETENTION: duration("365d"),
  REQUEST_TIMEOUT: duration("30s"),
  SHUTDOWN_TIMEOUT: duration("10s"),
  EXIT_BY_SIGNAL: z.enum(["true", "false"], { message: 'Expected "true" or "false"' })
    .default("false").transform((value) => value === "true"),
  MAX_IN_FLIGHT_REQUESTS: integer(16, 1, 100_000),
  ADMISSION_QUEUE_LIMIT: integer(512, 0, 100_000),
  ADMISSION_QUEUE_TIMEOUT: duration("1s"),
  RATE_LIMIT_LOGIN_MAX: integer(10, 1, 1_000_000),
  RATE_LIMIT_LOGIN_WINDOW: duration("15m"),
  RATE_LIMIT_LOGIN_IP_MAX: integer(100, 1, 1_000_000),
  REDIS_KEY_PREFIX: z.string().default("items-api:").refine(
    (value) => /^[A-Za-z0-9_.:-]{1,64}$/.test(value),
    { message: "Expected 1 to 64 letters, digits, '_', '.', ':' or '-'" },
  ),
  RATE_LIMIT_API_MAX: integer(600, 1, 100_000_000),
  RATE_LIMIT_API_WINDOW: duration("1m"),
  RATE_LIMIT_AUTH_FAILURE_MAX: integer(30, 1, 1_000_000),
  RATE_LIMIT_AUTH_FAILURE_WINDOW: duration("1m"),
  RATE_LIMIT_RENAME_MAX: integer(5, 1, 1_000_000),
  RATE_LIMIT_RENAME_WINDOW: duration("24h"),
  PASSWORD_HASH_QUEUE_LIMIT: optionalInteger(1, 100_000),
  PASSWORD_HASHER: oneOf(["auto", "native", "webcrypto"]),
  RATE_LIMIT_API_KEY_MAX: integer(600, 1, 100_000_000),
  RATE_LIMIT_API_KEY_WINDOW: duration("1m"),
  API_KEYS_MAX_PER_USER: integer(20, 1, 1_000),
  DOCS_AUTH: oneOf(["none", "basic"]),
  LOG_LEVEL: z.enum(["debug", "info", "warning", "error"]).default("info"),
  LOG_FORMAT: oneOf(["pretty", "json"]),
  VERSION_REFRESH_INTERVAL: duration("5s"),
  TOKEN_PURGE_CRON: cronSchedule,
  OIDC_ISSUER: issuerUrl,
  OIDC_AUDIENCE: z.string().max(2048).optional(),
  OIDC_ROLES_CLAIM: claimPath("roles"),
  OIDC_ADMIN_ROLE: z.string().min(1).max(256).default("admin"),
  OIDC_USERNAME_CLAIM: claimPath("preferred_username"),
  OIDC_CLOCK_TOLERANCE: duration("30s").refine((ms) => ms <= 300_000, {
    message: "Expected at most 5m: a larger tolerance keeps expired tokens alive",
  }),
  OIDC_MAX_TOKEN_CACHE_TTL: duration("5m").refine((ms) => ms <= 3_600_000, {
    message: "Expected 0s to 1h: a cached verification is trusted this long without a check",
  }),
  OIDC_MAX_TOKEN_LIFETIME: duration("24h").refine((ms) => ms >= 60_000 && ms <= 31 * 86_400_000, {
    message: "Expected 1m to 31d: the longest exp - iat a provider token may claim",
  }),
});

/** The cores available to this process (`WORKERS=auto`). */
function availableCores(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

function isMysqlUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "mysql:" && url.hostname !== "" && url.pathname.length > 1;
  } catch {
    return false;
  }
}

function isIssuerUrl(value: string): boolean {
  // Stored beside each linked identity (an ASCII column of 255).
  if (value.length > 255 || !/^[\x21-\x7e]+$/.test(value)) return false;
  try {
    const url = new URL(value);
    if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
      return false;
    }
    if (url.protocol === "https:") return true;
    return url.protocol === "http:" &&
      ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  } catch {
    return false;
  }
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value;
  } catch {
    return false;
  }
}

/**
 * Parse an environment into a frozen {@link Config}.
 *
 * @example
 * ```ts
 * const config = parseConfig({ APP_ENV: "test", DATABASE_URL: "sqlite::memory:" });
 * ```
 * @throws {ConfigError} naming every bad variable and why
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // An empty variable counts as unset, as in most deployment tools.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`),
    );
  }
  const e = result.data;
  const appEnv = e.APP_ENV ?? "development";
  const production = appEnv === "production";
  const problems: string[] = [];
  const warnings: string[] = [];

  if (production && !e.DATABASE_URL) {
    problems.push("DATABASE_URL: Required when APP_ENV=production");
  }
  let secretKey = e.SECRET_KEY;
  const weakness = secretKey === undefined ? undefined : lowEntropyReason(secretKey);
  if (secretKey !== undefined && secretKey.length < 32) {
    problems.push("SECRET_KEY: Must be at least 32 characters");
  } else if (secretKey !== undefined && weakness !== undefined) {
    const message = `SECRET_KEY: Too predictable (${weakness}); ` +
      "use a random value such as the output of `openssl rand -hex 32`";
    if (production) problems.push(message);
    else warnings.push(message);
  } else if (secretKey === undefined) {
    if (production) problems.push("SECRET_KEY: Required when APP_ENV=production");
    else warnings.push("SECRET_KEY is unset: using the development-only key");
    secretKey = DEV_SECRET_KEY;
  }
  let adminPassword = e.ADMIN_PASSWORD;
  if (production && adminPassword === DEV_ADMIN_PASSWORD) {
    problems.push(`ADMIN_PASSWORD: The default "admin" is refused when APP_ENV=production`);
  } else if (production && adminPassword !== undefined && adminPassword.length < 12) {
    problems.push("ADMIN_PASSWORD: Must be at least 12 characters when APP_ENV=production");
  } else if (adminPassword === undefined && !production) {
    adminPassword = DEV_ADMIN_PASSWORD;
  }
  if (e.OIDC_ISSUER !== undefined && e.OIDC_AUDIENCE === undefined) {
    problems.push("OIDC_AUDIENCE: Required with OIDC_ISSUER (the aud this API accepts)");
  } else if (e.OIDC_ISSUER === undefined && e.OIDC_AUDIENCE !== undefined) {
    problems.push("OIDC_AUDIENCE: Has no effect without OIDC_ISSUER");
  }
  const databaseUrl = e.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  if (e.WORKERS > 1 && databaseUrl.startsWith("sqlite:")) {
    problems.push(
      `WORKERS: ${e.WORKERS} workers cannot share a SQLite database (one writer at a time: ` +
        `the others would fail with "database is locked"); use WORKERS=1 or a mysql:// ` +
        "DATABASE_URL",
    );
  }
  if (e.WORKERS > 1 && Deno.build.os !== "linux") {
    problems.push(
      `WORKERS: ${e.WORKERS} workers need Linux (SO_REUSEPORT spreading connections across ` +
        `processes); on ${Deno.build.os} use WORKERS=1 and run several instances behind a proxy`,
    );
  }
  if (e.WORKERS > 1 && e.REDIS_URL === undefined) {
    problems.push(
      `WORKERS: ${e.WORKERS} workers need REDIS_URL: without it each worker would count rate ` +
        "and login limits on its own; set REDIS_URL or use WORKERS=1",
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const docsAuth = e.DOCS_AUTH ?? (production ? "basic" : "none");
  if (production && docsAuth === "none") {
    warnings.push(
      "DOCS_AUTH=none with APP_ENV=production: /docs and /openapi.json are public to anyone",
    );
  }

  return deepFreeze({
    env: appEnv,
    http: {
      host: e.HOST ?? (production ? EVERY_ADDRESS : LOOPBACK_HOST),
      port: e.PORT,
      metricsPort: e.METRICS_PORT,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      requireIfMatch: e.REQUIRE_IF_MATCH,
      idempotencyTtlMs: e.IDEMPOTENCY_TTL,
      requestTimeoutMs: e.REQUEST_TIMEOUT,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
      exitBySignal: e.EXIT_BY_SIGNAL,
      admission: {
        maxInFlight: e.MAX_IN_FLIGHT_REQUESTS,
        queueLimit: e.ADMISSION_QUEUE_LIMIT,
        queueTimeoutMs: e.ADMISSION_QUEUE_TIMEOUT,
      },
      trustProxy: e.TRUST_PROXY,
      corsOrigins: e.CORS_ORIGINS,
    },
    database: {
      url: databaseUrl,
      poolSize: e.DB_POOL_SIZE,
      queueLimit: e.DB_QUEUE_LIMIT,
      queryTimeoutMs: e.DB_QUERY_TIMEOUT,
      listQueryTimeoutMs: e.LIST_QUERY_TIMEOUT,
    },
    workers: e.WORKERS,
    worker: e.ITEMS_API_WORKER_INDEX === undefined || e.ITEMS_API_WORKER_METRICS_PORT === undefined
      ? undefined
      : { index: e.ITEMS_API_WORKER_INDEX, metricsPort: e.ITEMS_API_WORKER_METRICS_PORT },
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    auth: {
      secretKey,
      accessTokenTtlMs: e.ACCESS_TOKEN_TTL,
      refreshTokenTtlMs: e.REFRESH_TOKEN_TTL,
      maxSessionsPerUser: e.MAX_SESSIONS_PER_USER,
      hashQueueLimit: e.PASSWORD_HASH_QUEUE_LIMIT,
      hashConcurrency: Math.max(1, Math.floor((availableCores() - 1) / e.WORKERS)),
      passwordHasher: e.PASSWORD_HASHER ?? "auto",
      maxApiKeysPerUser: e.API_KEYS_MAX_PER_USER,
    },
    admin: { username: e.ADMIN_USERNAME, password: adminPassword },
    rateLimit: {
      loginMax: e.RATE_LIMIT_LOGIN_MAX,
      loginWindowMs: e.RATE_LIMIT_LOGIN_WINDOW,
      loginAddressMax: e.RATE_LIMIT_LOGIN_IP_MAX,
      apiMax: e.RATE_LIMIT_API_MAX,
      apiWindowMs: e.RATE_LIMIT_API_WINDOW,
      authFailureMax: e.RATE_LIMIT_AUTH_FAILURE_MAX,
      authFailureWindowMs: e.RATE_LIMIT_AUTH_FAILURE_WINDOW,
      renameMax: e.RATE_LIMIT_RENAME_MAX,
      renameWindowMs: e.RATE_LIMIT_RENAME_WINDOW,
      apiKeyMax: e.RATE_LIMIT_API_KEY_MAX,
      apiKeyWindowMs: e.RATE_LIMIT_API_KEY_WINDOW,
    },
    docsAuth,
    log: {
      level: e.LOG_LEVEL,
      format: e.LOG_FORMAT ?? (appEnv === "development" ? "pretty" : "json"),
    },
    versionRefreshMs: e.VERSION_REFRESH_INTERVAL,
    tokenPurgeCron: e.TOKEN_PURGE_CRON,
    auditRetentionMs: e.AUDIT_RETENTION,
    oidc: e.OIDC_ISSUER === undefined || e.OIDC_AUDIENCE === undefined ? undefined : {
      issuer: e.OIDC_ISSUER,
      audience: e.OIDC_AUDIENCE,
      rolesClaim: e.OIDC_ROLES_CLAIM,
      adminRole: e.OIDC_ADMIN_ROLE,
      usernameClaim: e.OIDC_USERNAME_CLAIM,
      clockToleranceMs: e.OIDC_CLOCK_TOLERANCE,
      maxTokenCacheTtlMs: e.OIDC_MAX_TOKEN_CACHE_TTL,
      maxTokenLifetimeMs: e.OIDC_MAX_TOKEN_LIFETIME,
    },
    warnings,
  });
}

/** Read the process environment and parse it; the one place that touches `Deno.env`. */
export function loadConfig(overrides: Readonly<Record<string, string>> = {}): Config {
  return parseConfig({ ...withEnvFile(Deno.env.toObject()), ...overrides });
}

/**
 * `env` with the variables of the dotenv file ENV_FILE names (`deno task dev` sets `.env`)
 * filling in what `env` leaves unset: a variable of the process environment always wins, even
 * an empty one, as with `deno run --env-file`. A missing file is no error (a fresh checkout
 * has none); an unreadable one is.
 *
 * @example
 * ```ts
 * import { withEnvFile } from "@/config.ts";
 *
 * withEnvFile({ PORT: "9090" }); // no ENV_FILE: { PORT: "9090" }
 * ```
 * @throws {ConfigError} when the file exists but cannot be read
 */
export function withEnvFile(
  env: Readonly<Record<string, string>>,
): Record<string, string> {
  const path = env.ENV_FILE;
  if (path === undefined || path === "") return { ...env };
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { ...env };
    throw new ConfigError([`ENV_FILE: Cannot read ${path} (${(error as Error).message})`]);
  }
  const fromFile = Object.entries(parseEnv(text))
    .filter((entry): entry is [string, string] => typeof entry[1] === "string");
  return { ...Object.fromEntries(fromFile), ...env };
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (inner !== null && typeof inner === "object") deepFreeze(inner);
  }
  return Object.freeze(value);
}
