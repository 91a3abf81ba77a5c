/**
 * The API's one scope vocabulary. Every authenticated route declares the scopes it needs in
 * its `createRoute` (through `requireAuth({ scopes })`); a credential that carries scopes
 * (a provider JWT's `scope` claim, an API key) may call only the routes they cover. A
 * first-party session token carries every scope of its user's role.
 *
 * @example
 * ```ts
 * import { parseScopeClaim, scopesOfRole } from "@/http/scopes.ts";
 *
 * scopesOfRole("user"); // ["items:read", "items:write", "users:read", "users:write"]
 * parseScopeClaim("openid items:read"); // ["items:read"]
 * ```
 *
 * @module
 */
import type { RoleName } from "@/middleware/app-env.ts";

/** Every scope, with what it allows (shown in the OpenAPI document). */
export const SCOPES = {
  "items:read": "List and read items",
  "items:write": "Create, change and delete items (owner or admin)",
  "users:read": "Read users (self, or any as an admin)",
  "users:write": "Create, change and deactivate users (self, or any as an admin)",
  "versions:write": "Add and change client versions (admin)",
} as const;

/** A scope name. */
export type Scope = keyof typeof SCOPES;

/** Every scope name, in declaration order. */
export const SCOPE_NAMES: readonly Scope[] = Object.keys(SCOPES) as Scope[];

const ROLE_SCOPES: Readonly<Record<RoleName, readonly Scope[]>> = {
  admin: SCOPE_NAMES,
  user: ["items:read", "items:write", "users:read", "users:write"],
};

/** Whether `name` is a scope of the vocabulary. */
export function isScope(name: string): name is Scope {
  return Object.hasOwn(SCOPES, name);
}

/** The scopes a role may hold: what a session token of that role carries. */
export function scopesOfRole(role: RoleName): readonly Scope[] {
  return ROLE_SCOPES[role];
}

/**
 * The scopes of an OAuth 2 `scope` value (space-separated, RFC 6749 section 3.3); names
 * outside the vocabulary (such as `openid`) are ignored.
 */
export function parseScopeClaim(value: string): Scope[] {
  const scopes: Scope[] = [];
  for (const name of value.split(" ")) {
    if (isScope(name) && !scopes.includes(name)) scopes.push(name);
  }
  return scopes;
}
