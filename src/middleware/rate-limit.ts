/**
 * Rate limiting over the app's `RateLimiter`, created once ({@link createThrottles}):
 *
 * - `api`: the general limit. The rule: a route whose middleware includes `requireAuth()` —
 *   the handler carrying an `authRequirement`, the same field that writes the route's OpenAPI
 *   `security` — is counted per caller by `limitCaller`, which bearer auth calls once it knows
 *   who it is (per user, or per API key); every other route (`security: []`) is counted here,
 *   per client address.
 * - `login`: password checks (POST /auth/token, HTTP Basic on the docs), limited
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
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { AppEnv } from "@/middleware/app-env.ts";
import type { Principal } from "@/http/principal.ts";
import { TooManyRequestsError } from "@/http/errors.ts";
import type { RateLimitScope } from "@/runtime/metrics.ts";
import {
  isExceeded,
  rateLimitItem,
  type RateLimitStatus,
  secondsUntilReset,
} from "@/runtime/rate-limit/limiter.ts";
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
  metrics: Pick<AppDeps["metrics"], "rateLimited">,
  c: Context<AppEnv>,
  exceeded: RateLimitStatus,
  scope: RateLimitScope,
  detail: string,
): TooManyRequestsError {
  metrics.rateLimited.inc({ scope });
  const retryAfter = secondsUntilReset(exceeded);
  return new TooManyRequestsError(retryAfter, `${detail}; retry in ${retryAfter} s`, {
    headers: headersFor(c.get("rateLimits") ?? [exceeded]),
  });
}

/** What the throttles are created with. */
export interface ThrottlesOptions {
  /** The limiter and its windows (RATE_LIMIT_*). */
  rateLimiter: AppDeps["rateLimiter"];
  clock: AppDeps["clock"];
  metrics: Pick<AppDeps["metrics"], "rateLimited">;
}

/** A login attempt counted before its password is checked. */
export interface LoginAttempt {
  /** The password was right: forget this username's failures from this address. */
  succeeded(): Promise<void>;
}

/** Every limit of the app, bound to one limiter; each takes the request it counts. */
export interface Throttles {
  /**
   * The general limit, in front of every router: a route that authenticates is counted per
   * caller by {@link Throttles.limitCaller}; every other route per client address.
   */
  api: MiddlewareHandler<AppEnv>;
  /** Count an authenticated request per user, or per API key for a key (429 when over). */
  limitCaller(c: Context<AppEnv>, principal: Principal): Promise<void>;
  /**
   * 429 for an address over its failed-authentication limit. Only addresses that failed
   * recently are looked up, so a valid token costs nothing here.
   */
  rejectOverAuthFailures(c: Context<AppEnv>): Promise<void>;
  /** Count a failed authentication against the client address. */
  countAuthFailure(c: Context<AppEnv>): Promise<void>;
  /**
   * Count a password check per (folded) username and address, and per address alone, before
   * the password is verified; 429 when either is over.
   */
  login<E extends AppEnv>(
    c: Context<E>,
    username: string,
    scope?: "login" | "docs",
  ): Promise<LoginAttempt>;
  /** The docs' HTTP Basic check, counted as a login. */
  docsCredential: CredentialThrottle;
  /**
   * A password change's `current_password` check: a login attempt, and one more limit per
   * user from any address, so a stolen access token is no password oracle.
   */
  passwordCheck<E extends AppEnv>(
    c: Context<E>,
    user: { id: number; username: string },
  ): Promise<LoginAttempt>;
  /** A non-admin's rename (whose 409 would tell which names exist): 429 when over. */
  rename<E extends AppEnv>(c: Context<E>, userId: number): Promise<void>;
}

/** Addresses remembered as having failed recently; the oldest is forgotten beyond this. */
const FAILED_ADDRESSES_MAX = 10_000;

/**
 * Fold a login name the way the login limit counts it: compatibility-normalized, marks and
 * invisible characters removed, lower case, trimmed and bounded, so look-alikes of one username
 * share one counter.
 */
export function foldLoginName(name: string): string {
  return name.slice(0, MAX_KEY_NAME_LENGTH * 4)
    .normalize("NFKD")
    .replace(/[\p{M}\p{Default_Ignorable_Code_Point}]/gu, "")
    .normalize("NFKC")
    .toLowerCase()
    .trim()
    .slice(0, MAX_KEY_NAME_LENGTH);
}

/** Longest folded name a limit key holds. */
const MAX_KEY_NAME_LENGTH = 128;

/** Create the app's throttles over one limiter. */
export function createThrottles({ rateLimiter, clock, metrics }: ThrottlesOptions): Throttles {
  /** Addresses with a recent failure, and until when: a valid token skips the lookup. */
  const failed = new Map<string, number>();

  const login = async (context: Context<AppEnv>, username: string, scope: "login" | "docs") => {
    const c = context;
    const address = c.get("clientIp");
    const userKey = `${foldLoginName(username)}|${address}`;
    const [perUser, perAddress] = await Promise.all([
      rateLimiter.hit(rateLimiter.login, userKey),
      rateLimiter.hit(rateLimiter.loginAddress, address),
    ]);
    record(c, perUser);
    record(c, perAddress);
    const worst = [perAddress, perUser].filter(isExceeded)
      .sort((a, b) => b.resetMs - a.resetMs)[0];
    if (worst) {
      const label = scope === "docs" ? "docs" : worst === perUser ? "login" : "login_address";
      throw tooManyRequests(metrics, c, worst, label, "Too many login attempts");
    }
    return { succeeded: () => rateLimiter.clear(rateLimiter.login, userKey) };
  };

  return {
    api: async function apiRateLimit(c, next) {
      if (EXEMPT_PATHS.has(c.req.path)) return next();
      if (!routeAuthenticates(c)) {
        const status = await rateLimiter.hit(rateLimiter.api, `a:${c.get("clientIp")}`);
        record(c, status);
        if (isExceeded(status)) {
          throw tooManyRequests(metrics, c, status, "api", "Too many requests");
        }
      }
      await next();
      const statuses = c.get("rateLimits");
      if (statuses) {
        const values = headersFor(statuses);
        c.res.headers.set("RateLimit-Policy", values["RateLimit-Policy"]);
        c.res.headers.set("RateLimit", values["RateLimit"]);
      }
    },

    async limitCaller(c, principal) {
      const keyId = principal.method === "api_key" ? principal.credentialId : undefined;
      const status = keyId === undefined
        ? await rateLimiter.hit(rateLimiter.api, `u:${principal.user.id}`)
        : await rateLimiter.hit(rateLimiter.apiKey, `k:${keyId}`);
      record(c, status);
      if (isExceeded(status)) {
        const scope = keyId === undefined ? "api" : "api_key";
        throw tooManyRequests(metrics, c, status, scope, "Too many requests");
      }
    },

    async rejectOverAuthFailures(c) {
      const address = c.get("clientIp");
      const until = failed.get(address);
      if (until === undefined) return;
      if (until <= clock.now().getTime()) {
        failed.delete(address);
        return;
      }
      const status = await rateLimiter.peek(rateLimiter.authFailure, `a:${address}`);
      if (status.count >= status.policy.max) {
        record(c, status);
        throw tooManyRequests(
          metrics,
          c,
          status,
          "auth_failure",
          "Too many failed authentications",
        );
      }
    },

    async countAuthFailure(c) {
      const address = c.get("clientIp");
      const status = await rateLimiter.hit(rateLimiter.authFailure, `a:${address}`);
      record(c, status);
      // Re-inserted, so the map's order is the order of the latest failures.
      failed.delete(address);
      failed.set(address, clock.now().getTime() + status.resetMs);
      if (failed.size > FAILED_ADDRESSES_MAX) {
        const oldest = failed.keys().next().value;
        if (oldest !== undefined) failed.delete(oldest);
      }
    },

    login: (c, username, scope = "login") => login(asAppContext(c), username, scope),

    docsCredential: { attempt: (c, username) => login(c, username, "docs") },

    async passwordCheck(context, user) {
      const c = asAppContext(context);
      const anyAddressKey = `#${user.id}`;
      const anyAddress = await rateLimiter.hit(rateLimiter.login, anyAddressKey);
      record(c, anyAddress);
      if (isExceeded(anyAddress)) {
        throw tooManyRequests(metrics, c, anyAddress, "login", "Too many password attempts");
      }
      const attempt = await login(c, user.username, "login");
      return {
        succeeded: async () => {
          await Promise.all([
            attempt.succeeded(),
            rateLimiter.clear(rateLimiter.login, anyAddressKey),
          ]);
        },
      };
    },

    async rename(context, userId) {
      const c = asAppContext(context);
      const status = await rateLimiter.hit(rateLimiter.rename, `u:${userId}`);
      record(c, status);
      if (isExceeded(status)) {
        throw tooManyRequests(metrics, c, status, "rename", "Too many username changes");
      }
    },
  };
}
