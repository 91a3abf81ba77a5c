/**
 * Bearer authentication: `Authorization: Bearer <access_token>` and nothing else (no query
 * string, no cookie, no other scheme). Every request looks the token's SHA-256 digest up, so
 * logout, deactivation and revocation act at once.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/lib/app-env.ts";
import { UnauthorizedError } from "@/lib/errors.ts";
import { getAppLogger } from "@/lib/logger.ts";
import { hashToken, TOKEN_PATTERN } from "@/lib/tokens.ts";
import { limitAuthenticatedRequest, markAuthenticating } from "@/middleware/rate-limit.ts";
import { findSessionByAccessHash, touchSession } from "@/modules/auth/sessions.repository.ts";

/** Name of the bearer security scheme in the OpenAPI document. */
export const BEARER_SCHEME_NAME = "bearerAuth";

/** `security` of a route that needs an access token. */
export const bearerSecurity: Array<Record<string, string[]>> = [{ [BEARER_SCHEME_NAME]: [] }];

/** `last_used_at` is written at most once per session per this interval. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

/** Auth scheme names are case-insensitive (RFC 9110 section 11.1); one or more spaces follow. */
const BEARER = /^Bearer +(\S+) *$/i;

/** `WWW-Authenticate` for a token that was presented but is not (or no longer) valid. */
const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/** The token of a `Bearer` Authorization header, or undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return BEARER.exec(header)?.[1];
}

/**
 * Require a valid access token: sets `c.var.user` and `c.var.session`, or answers 401 with
 * `WWW-Authenticate: Bearer`. Expired tokens, revoked sessions and deactivated users fail.
 *
 * @example
 * ```ts
 * const getMe = defineRoute({ ..., middleware: [requireAuth()] as const, security: [{ bearerAuth: [] }] });
 * ```
 */
export function requireAuth(): MiddlewareHandler<AppEnv> {
  const log = getAppLogger("auth");
  // Marked so the global API limit leaves authenticated routes to the per-user count below.
  return markAuthenticating(async function requireAuth(c, next) {
    const token = bearerToken(c.req.header("authorization"));
    if (token === undefined) throw new UnauthorizedError("Not authenticated");
    const invalid = () =>
      new UnauthorizedError("Invalid or expired access token", INVALID_TOKEN_CHALLENGE);
    // A token of the wrong shape cannot exist: skip the database.
    if (!TOKEN_PATTERN.test(token)) throw invalid();
    const { db, clock } = c.get("deps");
    const found = await findSessionByAccessHash(db, await hashToken(token));
    const now = clock.now();
    if (!found || !found.user.activated || found.accessExpiresAt.getTime() <= now.getTime()) {
      throw invalid();
    }
    c.set("user", found.user);
    c.set("session", {
      id: found.sessionId,
      userId: found.user.id,
      lastUsedAt: found.lastUsedAt,
    });
    await limitAuthenticatedRequest(c, found.user.id);
    if (now.getTime() - found.lastUsedAt.getTime() >= LAST_USED_WRITE_INTERVAL_MS) {
      const staleBefore = new Date(now.getTime() - LAST_USED_WRITE_INTERVAL_MS);
      try {
        await touchSession(db, found.sessionId, now, staleBefore);
      } catch (error) {
        // Bookkeeping only: the request itself is authenticated.
        log.warning("Could not record session use: {error}", {
          session_id: found.sessionId,
          error,
        });
      }
    }
    await next();
  });
}
