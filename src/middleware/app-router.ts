/**
 * What every module's router is created with, and the router and handler types typed by the
 * app's environment: `createAppRouter(deps)` is `createRouter<AppEnv>()` with the middleware
 * the routes' declarations stand for (bearer auth, the body guard).
 *
 * @module
 */
import type { RouteConfig } from "@hono/zod-openapi";
import { createRouter, type RouteHandlerOf, type RouterOptions } from "@/http/router.ts";
import type { ScopeCatalog } from "@/http/scopes.ts";
import type { AppDeps, AppEnv } from "@/middleware/app-env.ts";
import type { Throttles } from "@/middleware/rate-limit.ts";

/** A handler typed by its route definition and the app's environment. */
export type AppRouteHandler<R extends RouteConfig> = RouteHandlerOf<AppEnv, R>;

/** What a module's router is created with: the app's dependencies and its request pipeline. */
export interface ModuleDeps extends AppDeps {
  /** The middleware routes' declarations stand for (bearer auth, body limits). */
  readonly routing: RouterOptions;
  /** The app's rate limits, for handlers that count (logins, password checks, renames). */
  readonly throttles: Throttles;
  /** The scope vocabulary assembled from every module's descriptor. */
  readonly scopes: ScopeCatalog;
}

/** A router of the app, enforcing what its routes declare. */
export function createAppRouter(deps: Pick<ModuleDeps, "routing">) {
  return createRouter<AppEnv>(deps.routing);
}
