/**
 * The router and handler types of the app's environment: `createAppRouter(deps)` is
 * `createRouter<AppEnv>()` with the middleware the routes' declarations stand for (bearer auth,
 * the body guard).
 *
 * @module
 */
import type { RouteConfig } from "@hono/zod-openapi";
import { createRouter, type RouteHandlerOf, type RouterOptions } from "@/http/router.ts";
import type { AppEnv } from "@/middleware/app-env.ts";

/** A handler typed by its route definition and the app's environment. */
export type AppRouteHandler<R extends RouteConfig> = RouteHandlerOf<AppEnv, R>;

/** A router of the app, enforcing what its routes declare. */
export function createAppRouter(deps: { readonly routing: RouterOptions }) {
  return createRouter<AppEnv>(deps.routing);
}
