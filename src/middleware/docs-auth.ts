/**
 * `DOCS_AUTH=basic`: HTTP Basic in front of `/docs*` and `/openapi.json`, checked against active
 * admin accounts. A successful check is remembered briefly (keyed by a SHA-256 of the header,
 * never the header itself), so the docs page's asset requests do not each pay an Argon2id
 * verification; a deactivated or demoted admin therefore keeps docs access for at most
 * {@link DOCS_AUTH_CACHE_TTL_MS}.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";
import { UnauthorizedError } from "@/http/errors.ts";
import type { Clock } from "@/runtime/clock.ts";
import { getAppLogger } from "@/runtime/logger.ts";

/** The challenge of every docs 401; browsers show their login dialog for it. */
export const DOCS_AUTH_CHALLENGE = 'Basic realm="items-api docs", charset="UTF-8"';

/** How long a successful check is remembered. */
export const DOCS_AUTH_CACHE_TTL_MS = 60_000;

/** At most this many remembered checks; the oldest is dropped first. */
const CACHE_MAX_ENTRIES = 256;

/** Longer headers are refused without hashing (a username and password fit easily). */
const MAX_HEADER_LENGTH = 1024;

/**
 * Where the login throttle plugs in. Called only for checks that are not remembered, so a
 * throttled client still reaches the docs it already unlocked.
 */
export interface CredentialThrottle {
  /**
   * Before verifying: count this attempt against the client and the username, and throw a 429
   * `AppError` when that goes over a limit (so parallel guesses cannot all pass a check made
   * before any of them failed). `succeeded()` is called when the login was right.
   */
  attempt(c: Context<AppEnv>, username: string): Promise<{ succeeded(): Promise<void> }>;
}

/**
 * Checks a username and password and says whether they are an active admin's. It must take
 * the same time for unknown users, wrong passwords and non-admins (the auth service's
 * `checkCredentials` does).
 */
export type AdminCredentialCheck = (
  c: Context<AppEnv>,
  username: string,
  password: string,
) => Promise<boolean>;

/** Options of {@link docsBasicAuth}. */
export interface DocsBasicAuthOptions {
  /** How a login is verified (given by the app, so this middleware knows no module). */
  isAdmin: AdminCredentialCheck;
  /** The login throttle; without one, attempts are limited only by Argon2id's cost. */
  throttle?: CredentialThrottle | undefined;
  /** Override {@link DOCS_AUTH_CACHE_TTL_MS} (tests). */
  cacheTtlMs?: number;
  /** How long a checked login is remembered is measured on this clock. */
  clock: Clock;
}

/** Username and password of a `Basic` Authorization header, or undefined when malformed. */
export function parseBasicCredentials(
  header: string | undefined,
): { username: string; password: string } | undefined {
  if (!header || header.length > MAX_HEADER_LENGTH) return undefined;
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!match) return undefined;
  let decoded: string;
  try {
    const bytes = Uint8Array.from(atob(match[1]!), (ch) => ch.charCodeAt(0));
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Require HTTP Basic credentials of an active admin; otherwise 401 problem+json with
 * `WWW-Authenticate: Basic realm="items-api docs"`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { type AppError, problemResponse } from "@/http/errors.ts";
 * import type { AppEnv } from "@/middleware/app-env.ts";
 * import { docsBasicAuth } from "@/middleware/docs-auth.ts";
 * import { systemClock } from "@/runtime/clock.ts";
 *
 * // The app checks active admins' passwords (Argon2id) and passes the login throttle too.
 * const isAdmin = (_c: unknown, username: string, password: string) =>
 *   Promise.resolve(username === "admin" && password === "correct horse");
 * const app = new Hono<AppEnv>()
 *   .use("/docs", docsBasicAuth({ isAdmin, clock: systemClock }))
 *   .get("/docs", (c) => c.text("the docs"));
 * app.onError((error) => {
 *   const known = error as AppError; // as the app's error handler answers every AppError
 *   return problemResponse(known.toProblem("-"), known.headers);
 * });
 * await app.request("/docs"); // 401, WWW-Authenticate: Basic realm="items-api docs", ...
 * const login = `Basic ${btoa("admin:correct horse")}`;
 * await app.request("/docs", { headers: { Authorization: login } }); // 200
 * ```
 */
export function docsBasicAuth(options: DocsBasicAuthOptions): MiddlewareHandler<AppEnv> {
  const log = getAppLogger("docs");
  const { clock } = options;
  const ttlMs = options.cacheTtlMs ?? DOCS_AUTH_CACHE_TTL_MS;
  /** SHA-256 of an Authorization header that passed -> when that stops counting (epoch ms). */
  const remembered = new Map<string, number>();

  const remember = (key: string, until: number, now: number) => {
    for (const [k, expires] of remembered) {
      if (expires <= now) remembered.delete(k);
    }
    while (remembered.size >= CACHE_MAX_ENTRIES) {
      const oldest = remembered.keys().next().value;
      if (oldest === undefined) break;
      remembered.delete(oldest);
    }
    remembered.set(key, until);
  };

  return async function docsBasicAuth(c, next) {
    const header = c.req.header("authorization");
    const credentials = parseBasicCredentials(header);
    if (!credentials) {
      throw new UnauthorizedError(
        "The API documentation requires an admin login",
        DOCS_AUTH_CHALLENGE,
      );
    }
    const key = await sha256Hex(header!);
    const now = clock.now().getTime();
    const until = remembered.get(key);
    if (until !== undefined && until > now) return next();

    const attempt = await options.throttle?.attempt(c, credentials.username);
    // Verified even for a non-admin or deactivated account: the answer takes the same time.
    if (!(await options.isAdmin(c, credentials.username, credentials.password))) {
      log.info("Docs login refused for {username}", {
        username: credentials.username,
        ip: c.get("clientIp"),
        request_id: c.get("requestId"),
      });
      throw new UnauthorizedError("Invalid credentials", DOCS_AUTH_CHALLENGE);
    }
    await attempt?.succeeded();
    remember(key, now + ttlMs, now);
    return next();
  };
}
