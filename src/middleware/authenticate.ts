/**
 * Bearer authentication: `Authorization: Bearer <token>` and nothing else (no query string,
 * no cookie, no other scheme). The token goes to the first of the app's authenticators whose
 * shape it has (session token, provider JWT, API key); then the route's scopes and allowed
 * methods are checked.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv, PrincipalVariables } from "@/middleware/app-env.ts";
import type { TokenAuthenticator } from "@/middleware/authenticator.ts";
import type { AuthMethod, AuthSession, AuthUser, Principal } from "@/http/principal.ts";
import {
  AppError,
  ForbiddenError,
  InsufficientScopeError,
  UnauthorizedError,
} from "@/http/errors.ts";
import { BEARER_SCHEME_NAME, securityRequirement } from "@/http/openapi.ts";
import { type AuthRequirement, declareAuth } from "@/http/router.ts";
import type { Metrics } from "@/runtime/metrics.ts";
import type { Throttles } from "@/middleware/rate-limit.ts";

export { BEARER_SCHEME_NAME };

/** `security` of a route that needs an access token and no particular scope. */
export const bearerSecurity: Array<Record<string, string[]>> = securityRequirement([]);

/** Auth scheme names are case-insensitive (RFC 9110 section 11.1); one or more spaces follow. */
const BEARER = /^Bearer +(\S+) *$/i;

/** `WWW-Authenticate` for a token that was presented but is not (or no longer) valid. */
const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/** The token of a `Bearer` Authorization header, or undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return BEARER.exec(header)?.[1];
}

/** Options of {@link requireAuth}. */
export interface RequireAuthOptions<M extends readonly AuthMethod[] = readonly AuthMethod[]> {
  /** Scopes the credential must hold (all of them); also the route's OpenAPI `security`. */
  scopes?: readonly string[];
  /** Only these kinds of credential may call the route (default: any). */
  methods?: M;
}

export type { AuthRequirement };

/** The variables the bearer-auth middleware sets for the handlers after it. */
export interface AuthVariables extends PrincipalVariables {
  user: AuthUser;
  principal: Principal;
}

/** On routes only session tokens may call, the session is known too. */
export interface SessionVariables extends AuthVariables {
  session: AuthSession;
}

type VariablesFor<M> = M extends readonly ["session"] ? SessionVariables : AuthVariables;

/** What `requireAuth()` returns: a declaration that types the variables auth will set. */
export type AuthMiddleware<V extends AuthVariables = AuthVariables> =
  & MiddlewareHandler<AppEnv & { Variables: V }>
  & { readonly authRequirement: AuthRequirement };

/** The scopes each role may hold, assembled from the modules' descriptors. */
export type ScopesOfRole = (role: AuthUser["role"]) => readonly string[];

/** The scopes a principal holds: its credential's, never beyond its user's role. */
export function effectiveScopes(
  principal: Principal,
  scopesOfRole: ScopesOfRole,
): ReadonlySet<string> {
  const ofRole = scopesOfRole(principal.user.role);
  if (principal.scopes === undefined) return new Set(ofRole);
  return new Set(principal.scopes.filter((scope) => ofRole.includes(scope)));
}

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

/**
 * Declare that a route needs a valid bearer credential; the router puts the app's bearer-auth
 * middleware ({@link bearerAuth}) in its place, which sets the `principal`, `user` and (for
 * session tokens) `session` variables, or answers 401 with `WWW-Authenticate: Bearer`.
 * Expired tokens, revoked sessions and deactivated users fail. A credential without the route's
 * `scopes` gets 403 `insufficient_scope` (RFC 6750 section 3.1); one of a kind outside
 * `methods`, 403.
 *
 * @example
 * ```ts
 * import { defineRoute } from "@/http/router.ts";
 * import { requireAuth } from "@/middleware/authenticate.ts";
 *
 * const deleteItem = defineRoute({
 *   method: "delete",
 *   path: "/items/{item_id}",
 *   middleware: [requireAuth({ scopes: ["items:write"] })] as const,
 *   responses: { 204: { description: "Deleted" } },
 * });
 * ```
 */
export function requireAuth<const M extends readonly AuthMethod[] = readonly AuthMethod[]>(
  options: RequireAuthOptions<M> = {},
): AuthMiddleware<VariablesFor<M>> {
  return declareAuth({
    scopes: options.scopes ?? [],
    methods: options.methods,
  }) as unknown as AuthMiddleware<VariablesFor<M>>;
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
