/**
 * What a route declares about its caller: `requireAuth({ scopes, methods })`, and the variables
 * bearer auth (./bearer-auth.ts) then sets for its handlers. `Authorization: Bearer <token>` and
 * nothing else (no query string, no cookie, no other scheme).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv, PrincipalVariables } from "@/middleware/app-env.ts";
import type { AuthMethod, AuthSession, AuthUser, Principal } from "@/http/principal.ts";
import { BEARER_SCHEME_NAME, securityRequirement } from "@/http/openapi.ts";
import { type AuthRequirement, declareAuth } from "@/http/router.ts";

export { BEARER_SCHEME_NAME };

/** `security` of a route that needs an access token and no particular scope. */
export const bearerSecurity: Array<Record<string, string[]>> = securityRequirement([]);

/** Auth scheme names are case-insensitive (RFC 9110 section 11.1); one or more spaces follow. */
const BEARER = /^Bearer +(\S+) *$/i;

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
