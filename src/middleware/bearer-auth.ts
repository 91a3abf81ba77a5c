/**
 * The bearer-auth middleware the router puts in place of a route's `requireAuth()`
 * declaration: `Authorization: Bearer <token>` and nothing else (no query string, no cookie, no
 * other scheme). The token goes to the first of the app's authenticators whose shape it has
 * (session token, provider JWT, API key); then the route's scopes and allowed methods are
 * checked.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import {
  AppError,
  ForbiddenError,
  InsufficientScopeError,
  UnauthorizedError,
} from "@/http/errors.ts";
import type { Principal } from "@/http/principal.ts";
import type { AuthRequirement } from "@/http/router.ts";
import type { AppEnv } from "@/middleware/app-env.ts";
import { bearerToken, type ScopesOfRole } from "@/middleware/authenticate.ts";
import type { TokenAuthenticator } from "@/middleware/authenticator.ts";
import type { Throttles } from "@/middleware/rate-limit.ts";
import type { Metrics } from "@/runtime/metrics.ts";

/** `WWW-Authenticate` for a token that was presented but is not (or no longer) valid. */
const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/** Whether `principal` holds every scope of `required` (see {@link effectiveScopes}). */
function holdsScopes(
  principal: Principal,
  required: readonly string[],
  scopesOfRole: ScopesOfRole,
): boolean {
  const ofRole = scopesOfRole(principal.user.role);
  const held = principal.scopes;
  return required.every((scope) => ofRole.includes(scope) && (!held || held.includes(scope)));
}

/** Options of {@link bearerAuth}: what it is created with. */
export interface BearerAuthOptions {
  /** The kinds of bearer credential accepted, asked in order; the first that accepts decides. */
  authenticators: readonly TokenAuthenticator[];
  /** The scopes each role may hold. */
  scopesOfRole: ScopesOfRole;
  metrics: Pick<Metrics, "countAuthentication">;
  /** Failed-token and per-caller limits. */
  throttles: Pick<Throttles, "rejectOverAuthFailures" | "countAuthFailure" | "limitCaller">;
}

/**
 * The bearer-auth middleware of a route's {@link requireAuth} requirement. The token goes to
 * the first authenticator whose shape it has; then the route's scopes and allowed methods are
 * checked.
 */
export function bearerAuth(
  options: BearerAuthOptions,
): (requirement: AuthRequirement) => MiddlewareHandler<AppEnv> {
  const { authenticators, metrics, throttles, scopesOfRole } = options;
  return ({ scopes, methods }) =>
    async function requireAuth(c, next) {
      const token = bearerToken(c.req.header("authorization"));
      if (token === undefined) throw new UnauthorizedError("Not authenticated");
      // An address guessing tokens is refused before any authenticator does I/O.
      await throttles.rejectOverAuthFailures(c);
      const authenticator = authenticators.find((candidate) => candidate.accepts(token));
      const method = authenticator?.method ?? "unknown";
      let principal: Principal | undefined;
      try {
        // A token no authenticator accepts cannot exist: no lookup at all.
        principal = authenticator && await authenticator.authenticate(token, c.get("db"));
      } catch (error) {
        if (error instanceof AppError && error.status === 503) {
          metrics.countAuthentication(method, "unavailable");
        }
        throw error;
      }
      if (!principal || !principal.user.activated) {
        metrics.countAuthentication(method, "invalid");
        await throttles.countAuthFailure(c);
        throw new UnauthorizedError("Invalid or expired access token", INVALID_TOKEN_CHALLENGE);
      }
      c.set("principal", principal);
      c.set("user", principal.user);
      if (principal.session) c.set("session", principal.session);
      await throttles.limitCaller(c, principal);
      if (methods !== undefined && !methods.includes(principal.method)) {
        metrics.countAuthentication(method, "wrong_method");
        throw new ForbiddenError("This credential cannot be used here; use a session token");
      }
      if (scopes.length > 0 && !holdsScopes(principal, scopes, scopesOfRole)) {
        metrics.countAuthentication(method, "insufficient_scope");
        throw new InsufficientScopeError(scopes);
      }
      metrics.countAuthentication(method, "success");
      await next();
    };
}
