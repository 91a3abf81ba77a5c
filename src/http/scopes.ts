/**
 * The API's scope vocabulary, assembled from what each module declares in its descriptor. Every
 * authenticated route names the scopes it needs (`requireAuth({ scopes })`); a credential that
 * carries scopes (a provider JWT's `scope` claim, an API key) may call only the routes they
 * cover. A first-party session token carries every scope of its user's role.
 *
 * @example
 * ```ts
 * import { scopeCatalog } from "@/http/scopes.ts";
 *
 * const scopes = scopeCatalog([{
 *   scopes: {
 *     "items:read": { description: "List and read items", roles: ["admin", "user"] },
 *     "versions:write": { description: "Add and change client versions", roles: ["admin"] },
 *   },
 * }]);
 * scopes.ofRole("user"); // ["items:read"]
 * scopes.parse("openid items:read"); // ["items:read"]
 * ```
 *
 * @module
 */
import type { RoleName } from "@/http/principal.ts";

/** What a module says of a scope it defines. */
export interface ScopeDefinition {
  /** What it allows (shown in the OpenAPI document). */
  readonly description: string;
  /** The roles that may hold it. */
  readonly roles: readonly RoleName[];
}

/** Every scope of the app, with what each role may hold. */
export interface ScopeCatalog {
  /** Scope name -> what it allows. */
  readonly descriptions: Readonly<Record<string, string>>;
  /** Every scope name, sorted. */
  readonly names: readonly string[];
  /** Whether `name` is a scope of the vocabulary. */
  has(name: string): boolean;
  /** The scopes a role may hold: what a session token of that role carries. */
  ofRole(role: RoleName): readonly string[];
  /**
   * The scopes of an OAuth 2 `scope` value (space-separated, RFC 6749 section 3.3); names
   * outside the vocabulary (such as `openid`) are ignored.
   */
  parse(value: string): string[];
}

/** The catalogue of the scopes the given modules define (a name defined twice is an error). */
export function scopeCatalog(
  modules: readonly { readonly scopes?: Readonly<Record<string, ScopeDefinition>> }[],
): ScopeCatalog {
  const descriptions: Record<string, string> = {};
  const byRole: Record<RoleName, string[]> = { admin: [], user: [] };
  for (const module of modules) {
    for (const [name, definition] of Object.entries(module.scopes ?? {})) {
      if (Object.hasOwn(descriptions, name)) throw new Error(`Scope "${name}" is defined twice`);
      descriptions[name] = definition.description;
      for (const role of definition.roles) byRole[role].push(name);
    }
  }
  // Sorted, so the vocabulary reads the same whatever order the modules are listed in.
  const names = Object.keys(descriptions).sort();
  for (const list of Object.values(byRole)) list.sort();
  const has = (name: string) => Object.hasOwn(descriptions, name);
  return {
    descriptions,
    names,
    has,
    ofRole: (role) => byRole[role],
    parse(value) {
      const scopes: string[] = [];
      for (const name of value.split(" ")) {
        if (has(name) && !scopes.includes(name)) scopes.push(name);
      }
      return scopes;
    },
  };
}
