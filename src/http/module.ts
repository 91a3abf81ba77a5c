/**
 * A module declares itself once: its router (created with the app's dependencies), the paths it
 * serves, its OpenAPI tag, whether the `X-Version` gate applies, and the scopes it defines. The
 * app mounts every descriptor of its list; the version gate, the document's tags and the scope
 * vocabulary are derived from the same list.
 *
 * @example
 * ```ts
 * import { defineModule } from "@/http/module.ts";
 * import { createRouter } from "@/http/router.ts";
 *
 * export const pingModule = defineModule({
 *   name: "ping",
 *   basePaths: ["/ping"],
 *   versioned: false,
 *   router: () => createRouter().get("/ping", (c) => c.text("pong")),
 * });
 * ```
 *
 * @module
 */
import type { Hono } from "hono";
import type { ScopeDefinition } from "@/http/scopes.ts";

/** What a module says of itself; `D` is what its router is created with. */
// deno-lint-ignore no-explicit-any
export interface ModuleDescriptor<D, R extends Hono<any, any, any> = Hono<any, any, any>> {
  /** A short name, for logs and tests. */
  readonly name: string;
  /** The paths it serves: each of these and everything below it (`/items`, `/items/1`). */
  readonly basePaths: readonly string[];
  /** Whether the `X-Version` gate applies to its paths. */
  readonly versioned: boolean;
  /** The OpenAPI tag its operations carry, with its description. */
  readonly tag?: { readonly name: string; readonly description: string };
  /** The scopes it defines, and which roles hold each. */
  readonly scopes?: Readonly<Record<string, ScopeDefinition>>;
  /** Its router, created once with the app's dependencies. */
  router(deps: D): R;
}

/** A module's descriptor, as written: the identity, kept for its router's exact type. */
// deno-lint-ignore no-explicit-any
export function defineModule<D, R extends Hono<any, any, any>>(
  descriptor: ModuleDescriptor<D, R>,
): ModuleDescriptor<D, R> {
  return descriptor;
}
