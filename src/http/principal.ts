/**
 * Who is calling: the authenticated user, the session (device) of a first-party token, and what
 * the caller's credential allows. The HTTP kit's permission vocabulary: two roles, and scopes
 * as plain names (each module declares its own in its descriptor).
 *
 * @module
 */

/** The roles the permission model knows (their ids live in `modules/roles`). */
export type RoleName = "admin" | "user";

/** The authenticated caller, set by the bearer-auth middleware. */
export interface AuthUser {
  id: number;
  username: string;
  roleId: number;
  role: RoleName;
  activated: boolean;
}

/** The session (device) the caller's access token belongs to. */
export interface AuthSession {
  id: number;
  userId: number;
  lastUsedAt: Date;
}

/** How the caller authenticated (reported by `GET /auth/me`, counted in metrics). */
export type AuthMethod = "session" | "oidc" | "api_key";

/** The authenticated caller and what its credential allows. */
export interface Principal {
  readonly user: AuthUser;
  readonly method: AuthMethod;
  /**
   * The credential's own scopes, narrowed further by the user's role; undefined means every
   * scope of the role (first-party session tokens).
   */
  readonly scopes?: readonly string[] | undefined;
  /** The session (device) of a first-party access token. */
  readonly session?: AuthSession | undefined;
  /** An id of the credential for logs and metrics (an API key's id); never a secret. */
  readonly credentialId?: string | undefined;
  /** The identity provider's issuer and subject, for a provider token. */
  readonly provider?: { readonly issuer: string; readonly subject: string } | undefined;
}
