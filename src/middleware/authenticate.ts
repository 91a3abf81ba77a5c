/**
 * Bearer authentication: `Authorization: Bearer <token>` and nothing else (no query string,
 * no cookie, no other scheme). The token goes to the first of the app's authenticators whose
 * shape it has (session token, provider JWT, API key); then the route's scopes and allowed
 * methods are checked.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv, AuthSession, AuthUser } from "@/middleware/app-env.ts";
import type { AuthMethod, Principal } from "@/middleware/principal.ts";
import {
  AppError,
  ForbiddenError,
  InsufficientScopeError,
  UnauthorizedError,
} from "@/http/errors.ts";
import { BEARER_SCHEME_NAME, securityRequirement } from "@/http/openapi.ts";
import { type Scope, scopesOfRole } from "@/http/scopes.ts";
import {
  countAuthFailure,
  limitAuthenticatedRequest,
  rejectOverAuthFailures,
} from "@/middleware/rate-limit.ts";

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
  scopes?: readonly Scope[];
  /** Only these kinds of credential may call the route (default: any). */
  methods?: M;
}

/** What a route's `requireAuth()` demands; `defineRoute` writes it into the document. */
export interface AuthRequirement {
  readonly scopes: readonly Scope[];
  readonly methods: readonly AuthMethod[] | undefined;
}

/** The variables `requireAuth()` sets for the handlers after it. */
export interface AuthVariables {
  user: AuthUser;
  principal: Principal;
}

/** On routes only session tokens may call, the session is known too. */
export interface SessionVariables extends AuthVariables {
  session: AuthSession;
}

type VariablesFor<M> = M extends readonly ["session"] ? SessionVariables : AuthVariables;

/** The middleware `requireAuth()` returns: a handler that carries its requirement. */
export type AuthMiddleware<V extends AuthVariables = AuthVariables> =
  & MiddlewareHandler<AppEnv & { Variables: V }>
  & { readonly authRequirement: AuthRequirement };

/** The scopes a principal holds: its credential's, never beyond its user's role. */
export function effectiveScopes(principal: Principal): ReadonlySet<Scope> {
  const ofRole = scopesOfRole(principal.user.role);
  if (principal.scopes === undefined) return new Set(ofRole);
  return new Set(principal.scopes.filter((scope) => ofRole.includes(scope)));
}

/** Whether `principal` holds every scope of `required` (see {@link effectiveScopes}). */
function holdsScopes(principal: Principal, required: readonly Scope[]): boolean {
  const ofRole = scopesOfRole(principal.user.role);
  const held = principal.scopes;
  return required.every((scope) => ofRole.includes(scope) && (!held || held.includes(scope)));
}

/**
 * Require a valid bearer credential: sets the `principal`, `user` and (for session tokens)
 * `session` variables, or answers 401 with `WWW-Authenticate: Bearer`. Expired tokens,
 * revoked sessions and deactivated users fail. A credential without the route's `scopes`
 * gets 403 `insufficient_scope` (RFC 6750 section 3.1); one of a kind outside `methods`, 403.
 *
 * @example
 * ```ts ignore
 * const createItem = defineRoute({
 *   method: "post",
 *   path: "/items",
 *   middleware: [requireAuth({ scopes: ["items:write"] })] as const,
 *   // ...request and responses
 * });
 * ```
 */
export function requireAuth<const M extends readonly AuthMethod[] = readonly AuthMethod[]>(
  options: RequireAuthOptions<M> = {},
): AuthMiddleware<VariablesFor<M>> {
  const scopes = options.scopes ?? [];
  const methods = options.methods;
  const middleware: MiddlewareHandler<AppEnv> = async function requireAuth(c, next) {
    const token = bearerToken(c.req.header("authorization"));
    if (token === undefined) throw new UnauthorizedError("Not authenticated");
    // An address guessing tokens is refused before any authenticator does I/O.
    await rejectOverAuthFailures(c);
    const { authenticators, metrics } = c.get("deps");
    const authenticator = authenticators.find((candidate) => candidate.accepts(token));
    const method = authenticator?.method ?? "unknown";
    let principal: Principal | undefined;
    try {
      // A token no authenticator accepts cannot exist: no lookup at all.
      principal = authenticator && await authenticator.authenticate(token, c);
    } catch (error) {
      if (error instanceof AppError && error.status === 503) {
        metrics.countAuthentication(method, "unavailable");
      }
      throw error;
    }
    if (!principal || !principal.user.activated) {
      metrics.countAuthentication(method, "invalid");
      await countAuthFailure(c);
      throw new UnauthorizedError("Invalid or expired access token", INVALID_TOKEN_CHALLENGE);
    }
    c.set("principal", principal);
    c.set("user", principal.user);
    if (principal.session) c.set("session", principal.session);
    await limitAuthenticatedRequest(c, principal.user.id);
    if (methods !== undefined && !methods.includes(principal.method)) {
      metrics.countAuthentication(method, "wrong_method");
      throw new ForbiddenError("This credential cannot be used here; use a session token");
    }
    if (scopes.length > 0 && !holdsScopes(principal, scopes)) {
      metrics.countAuthentication(method, "insufficient_scope");
      throw new InsufficientScopeError(scopes);
    }
    metrics.countAuthentication(method, "success");
    await next();
  };
  // The requirement also tells the global API limit to leave this route to the count above.
  return Object.assign(middleware, {
    authRequirement: { scopes, methods },
  }) as unknown as AuthMiddleware<VariablesFor<M>>;
}

/** The requirement of the first `requireAuth()` among a route's middleware, if any. */
export function authRequirementOf(middleware: unknown): AuthRequirement | undefined {
  const list = Array.isArray(middleware) ? middleware : [middleware];
  for (const handler of list) {
    if (typeof handler === "function" && "authRequirement" in handler) {
      return (handler as AuthMiddleware).authRequirement;
    }
  }
  return undefined;
}
