/**
 * Rate limiting over the app's {@link RateLimiter}:
 *
 * - {@link apiRateLimit}: the general limit. The rule: a route whose middleware includes
 *   `requireAuth()` — the handler carrying an `authRequirement`, the same field that writes the
 *   route's OpenAPI `security` — is counted per caller by {@link limitAuthenticatedRequest},
 *   which `requireAuth` calls once it knows who it is (per user, or per API key); every other
 *   route (`security: []`) is counted here, per client address.
 * - {@link throttleLogin}: password checks (POST /auth/token, HTTP Basic on the docs), limited
 *   per username and address and per address alone, counted before the password is verified
 *   so parallel guesses cannot slip past the limit.
 *
 * Limited responses carry `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-
 * headers); a 429 also carries `Retry-After`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppDeps, AppEnv } from "@/middleware/app-env.ts";
import { TooManyRequestsError } from "@/http/errors.ts";
import type { RateLimitScope } from "@/runtime/metrics.ts";
import {
  isExceeded,
  rateLimitItem,
  type RateLimitStatus,
  secondsUntilReset,
} from "@/runtime/rate-limit/limiter.ts";
import { foldLoginName } from "@/modules/users/usernames.ts";
import type { CredentialThrottle } from "@/middleware/docs-auth.ts";

/** Paths never limited: probes of load balancers and orchestrators (also read by the docs). */
export const EXEMPT_PATHS: ReadonlySet<string> = new Set(["/livez", "/readyz"]);

/** Whether the matched route authenticates: one of its handlers is a `requireAuth()`. */
/**
 * A handler's context (whose env adds its route's variables, such as `user`) seen as the plain
 * app context these helpers read: they use only what every request has.
 */
function asAppContext<E extends AppEnv>(c: Context<E>): Context<AppEnv> {
  return c as unknown as Context<AppEnv>;
}

function routeAuthenticates(c: Context<AppEnv>): boolean {
  for (const route of matchedRoutes(c)) {
    if ("authRequirement" in route.handler) return true;
  }
  return false;
}

function record(c: Context<AppEnv>, status: RateLimitStatus): void {
  const list = c.get("rateLimits");
  if (list) list.push(status);
  else c.set("rateLimits", [status]);
}

function headersFor(
  statuses: readonly RateLimitStatus[],
): { "RateLimit-Policy": string; "RateLimit": string } {
  // One policy, the usual case, builds no lists.
  const [only] = statuses;
  if (statuses.length === 1 && only) {
    return { "RateLimit-Policy": only.policy.headerItem, "RateLimit": rateLimitItem(only) };
  }
  return {
    "RateLimit-Policy": statuses.map((s) => s.policy.headerItem).join(", "),
    "RateLimit": statuses.map(rateLimitItem).join(", "),
  };
}

function tooManyRequests(
  c: Context<AppEnv>,
  exceeded: RateLimitStatus,
  scope: RateLimitScope,
  detail: string,
): TooManyRequestsError {
  c.get("deps").metrics.rateLimited.inc({ scope });
  const retryAfter = secondsUntilReset(exceeded);
  return new TooManyRequestsError(retryAfter, `${detail}; retry in ${retryAfter} s`, {
    headers: headersFor(c.get("rateLimits") ?? [exceeded]),
  });
}

/** Options of {@link apiRateLimit}. */
export interface ApiRateLimitOptions {
  /** The limiter and its windows (RATE_LIMIT_*). */
  rateLimiter: AppDeps["rateLimiter"];
}

/**
 * The general API limit (`RATE_LIMIT_API_MAX` per `RATE_LIMIT_API_WINDOW`): per client address
 * here, or per user through {@link limitAuthenticatedRequest} on authenticated routes.
 * `/livez` and `/readyz` are exempt.
 */
export function apiRateLimit({ rateLimiter }: ApiRateLimitOptions): MiddlewareHandler<AppEnv> {
  return async function apiRateLimit(c, next) {
    if (EXEMPT_PATHS.has(c.req.path)) return next();
    if (!routeAuthenticates(c)) {
      const status = await rateLimiter.hit(rateLimiter.api, `a:${c.get("clientIp")}`);
      record(c, status);
      if (isExceeded(status)) throw tooManyRequests(c, status, "api", "Too many requests");
    }
    await next();
    const statuses = c.get("rateLimits");
    if (statuses) {
      const values = headersFor(statuses);
      c.res.headers.set("RateLimit-Policy", values["RateLimit-Policy"]);
      c.res.headers.set("RateLimit", values["RateLimit"]);
    }
  };
}

/**
 * Count an authenticated request against its user's API limit, or an API key's request against
 * that key's own limit (`RATE_LIMIT_API_KEY_*`); 429 when over it. Called by `requireAuth()`
 * right after it identified the caller.
 */
export async function limitAuthenticatedRequest(
  c: Context<AppEnv>,
  userId: number,
): Promise<void> {
  const { rateLimiter } = c.get("deps");
  const principal = c.get("principal");
  const keyId = principal?.method === "api_key" ? principal.credentialId : undefined;
  const status = keyId === undefined
    ? await rateLimiter.hit(rateLimiter.api, `u:${userId}`)
    : await rateLimiter.hit(rateLimiter.apiKey, `k:${keyId}`);
  record(c, status);
  if (isExceeded(status)) {
    throw tooManyRequests(c, status, keyId === undefined ? "api" : "api_key", "Too many requests");
  }
}

/** Addresses remembered per instance as having failed to authenticate lately. */
const FAILED_ADDRESSES_MAX = 10_000;

/**
 * Per limiter: address -> until when (epoch ms) it counts as recently failed on this instance.
 * Only those addresses are looked up in the store before authenticating, so a client that never
 * failed here costs no extra store command per request.
 */
const recentlyFailed = new WeakMap<object, Map<string, number>>();

function failedAddresses(c: Context<AppEnv>): Map<string, number> {
  const { rateLimiter } = c.get("deps");
  let map = recentlyFailed.get(rateLimiter);
  if (!map) {
    map = new Map();
    recentlyFailed.set(rateLimiter, map);
  }
  return map;
}

/**
 * Before a presented bearer token goes to any authenticator: 429 when the caller's address has
 * used up its failed authentications (`RATE_LIMIT_AUTH_FAILURE_MAX` per
 * `RATE_LIMIT_AUTH_FAILURE_WINDOW`), so guessing tokens never reaches the database. Only a
 * peek, and only for addresses that failed on this instance within the window: valid tokens of
 * other clients cost nothing. Failures are counted by {@link countAuthFailure}.
 */
export async function rejectOverAuthFailures(c: Context<AppEnv>): Promise<void> {
  const address = c.get("clientIp");
  const failed = failedAddresses(c);
  const until = failed.get(address);
  if (until === undefined) return;
  const { rateLimiter, clock } = c.get("deps");
  if (until <= clock.now().getTime()) {
    failed.delete(address);
    return;
  }
  const status = await rateLimiter.peek(rateLimiter.authFailure, `a:${address}`);
  if (status.count >= status.policy.max) {
    record(c, status);
    throw tooManyRequests(c, status, "auth_failure", "Too many failed authentications");
  }
}

/** Count a presented token that did not authenticate against the caller's address. */
export async function countAuthFailure(c: Context<AppEnv>): Promise<void> {
  const { rateLimiter, clock } = c.get("deps");
  const address = c.get("clientIp");
  const status = await rateLimiter.hit(rateLimiter.authFailure, `a:${address}`);
  record(c, status);
  const failed = failedAddresses(c);
  // Re-inserted at the end: the map's order is the order of the latest failures.
  failed.delete(address);
  failed.set(address, clock.now().getTime() + status.resetMs);
  if (failed.size > FAILED_ADDRESSES_MAX) {
    const oldest = failed.keys().next().value;
    if (oldest !== undefined) failed.delete(oldest);
  }
}

/** A counted login attempt; report a correct password with {@link LoginAttempt.succeeded}. */
export interface LoginAttempt {
  /** The password was right: forget this username's failures from this address. */
  succeeded(): Promise<void>;
}

/**
 * Count a password check for `username` from the caller's address before verifying it:
 * 429 once the username+address (`RATE_LIMIT_LOGIN_MAX`) or the address
 * (`RATE_LIMIT_LOGIN_IP_MAX`) has used up its attempts for `RATE_LIMIT_LOGIN_WINDOW`, whether
 * or not the password is right (so the answer reveals nothing). A success clears the
 * username+address count; the address count keeps every attempt.
 *
 * @param scope metric label: `login` for POST /auth/token, `docs` for HTTP Basic on the docs
 * @example
 * ```ts ignore
 * // A login handler (src/modules/auth/auth.handlers.ts); `c` is its context.
 * const attempt = await throttleLogin(c, credentials.username); // 429 when over a limit
 * const tokens = await service.login(c.get("deps"), credentials, device); // 401 when wrong
 * await attempt.succeeded(); // a right password clears the username's count
 * ```
 */
export async function throttleLogin(
  c: Context<AppEnv>,
  username: string,
  scope: "login" | "docs" = "login",
): Promise<LoginAttempt> {
  const { rateLimiter } = c.get("deps");
  const { userKey, address } = loginKeys(c, username);
  const [perUser, perAddress] = await Promise.all([
    rateLimiter.hit(rateLimiter.login, userKey),
    rateLimiter.hit(rateLimiter.loginAddress, address),
  ]);
  record(c, perUser);
  record(c, perAddress);
  rejectLogin(c, perUser, perAddress, isExceeded, scope);
  return { succeeded: () => rateLimiter.clear(rateLimiter.login, userKey) };
}

/**
 * Limiter keys of a login: the folded username (case, compatibility forms, marks and invisible
 * characters folded away, so `ａｄｍｉｎ`, `àdmin` and `ad\u200bmin` count as `admin`) with the
 * address, and the address alone.
 */
function loginKeys(c: Context<AppEnv>, username: string): { userKey: string; address: string } {
  const address = c.get("clientIp");
  // The address goes last (it never holds "|").
  return { userKey: `${foldLoginName(username)}|${address}`, address };
}

function rejectLogin(
  c: Context<AppEnv>,
  perUser: RateLimitStatus,
  perAddress: RateLimitStatus,
  over: (status: RateLimitStatus) => boolean,
  scope: "login" | "docs",
): void {
  // When both are used up, the later reset decides when a retry can succeed.
  const worst = [perAddress, perUser].filter(over).sort((a, b) => b.resetMs - a.resetMs)[0];
  if (!worst) return;
  const label = scope === "docs" ? "docs" : worst === perUser ? "login" : "login_address";
  throw tooManyRequests(c, worst, label, "Too many login attempts");
}

/**
 * The throttle of `DOCS_AUTH=basic` (the docs router's `throttle` option): exactly what POST
 * /auth/token does ({@link throttleLogin}): each attempt counted against the same
 * username+address and address limits before its password is verified, so guesses can neither
 * be split between the two nor slip past the limit in parallel. Remembered successes are not
 * attempts and are not counted.
 */
export function docsCredentialThrottle(): CredentialThrottle {
  return { attempt: (c, username) => throttleLogin(c, username, "docs") };
}

/**
 * Count a `current_password` check (PATCH /users/{self}) as a login attempt of that user,
 * before it is verified: against the username+address and address limits of
 * {@link throttleLogin}, and against the username from any address (a stolen access token used
 * from many addresses gets no more guesses). The (`RATE_LIMIT_LOGIN_MAX` + 1)th wrong guess in
 * the window is 429. A right password clears that user's counts.
 */
export async function throttlePasswordCheck<E extends AppEnv>(
  context: Context<E>,
  user: { id: number; username: string },
): Promise<LoginAttempt> {
  const c = asAppContext(context);
  const { rateLimiter } = c.get("deps");
  // Never equal to a username key, which always holds "|<address>".
  const anyAddressKey = `#${user.id}`;
  const anyAddress = await rateLimiter.hit(rateLimiter.login, anyAddressKey);
  record(c, anyAddress);
  if (isExceeded(anyAddress)) {
    throw tooManyRequests(c, anyAddress, "login", "Too many password attempts");
  }
  const attempt = await throttleLogin(c, user.username);
  return {
    succeeded: async () => {
      await Promise.all([attempt.succeeded(), rateLimiter.clear(rateLimiter.login, anyAddressKey)]);
    },
  };
}

/**
 * Count an attempt of a non-admin to rename themselves (`RATE_LIMIT_RENAME_MAX` per
 * `RATE_LIMIT_RENAME_WINDOW`, whatever the outcome), before the database is asked: a 409
 * "Username already taken" tells whether a name exists, so this bounds how many names one
 * account can probe.
 */
export async function throttleRename<E extends AppEnv>(
  context: Context<E>,
  userId: number,
): Promise<void> {
  const c = asAppContext(context);
  const { rateLimiter } = c.get("deps");
  const status = await rateLimiter.hit(rateLimiter.rename, `u:${userId}`);
  record(c, status);
  if (isExceeded(status)) throw tooManyRequests(c, status, "rename", "Too many username changes");
}
