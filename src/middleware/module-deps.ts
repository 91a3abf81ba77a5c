/**
 * What the app hands every module's router factory; a module names the part it needs.
 *
 * @module
 */
import type { RouterOptions } from "@/http/router.ts";
import type { ScopeCatalog } from "@/http/scopes.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { Throttles } from "@/middleware/rate-limit.ts";

/** What a module's router is created with: the app's dependencies and its request pipeline. */
export interface ModuleDeps extends AppDeps {
  /** The middleware routes' declarations stand for (bearer auth, body limits). */
  readonly routing: RouterOptions;
  /** The app's rate limits, for handlers that count (logins, password checks, renames). */
  readonly throttles: Throttles;
  /** The scope vocabulary assembled from every module's descriptor. */
  readonly scopes: ScopeCatalog;
}
