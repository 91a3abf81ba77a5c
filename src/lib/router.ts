/**
 * The router factory every module builds on: one `defaultHook` that turns validation failures
 * into 422 problems, and `defineRoute`, which guards each declared request body.
 *
 * @module
 */
import {
  createRoute,
  OpenAPIHono,
  type RouteConfig,
  type RouteConfigToEnv,
  type RouteHandler,
} from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/lib/app-env.ts";
import { type FieldError, ValidationError } from "@/lib/errors.ts";
import { securityRequirement } from "@/lib/openapi.ts";
import { authRequirementOf } from "@/middleware/authenticate.ts";
import { bodyGuard } from "@/middleware/body-guard.ts";

/**
 * A handler whose params, body, responses and variables are typed by its route definition:
 * the variables its route's middleware set (such as `c.var.user` after `requireAuth()`) are
 * there without a run-time check.
 */
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<
  R,
  AppEnv & RouteConfigToEnv<R>
>;

const LOCATIONS: Record<string, string> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "header",
  cookie: "cookie",
};

interface ZodIssueLike {
  path: PropertyKey[];
  message: string;
}

/** Turn zod issues into `[{ path: "body.name", message }]`. */
export function toFieldErrors(target: string, issues: readonly ZodIssueLike[]): FieldError[] {
  const location = LOCATIONS[target] ?? target;
  return issues.map((issue) => ({
    path: [location, ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
}

/**
 * A router with the app's `defaultHook`.
 *
 * @example
 * ```ts
 * const router = createRouter().openapi(getItemRoute, getItem);
 * ```
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new ValidationError(toFieldErrors(result.target, result.error.issues));
      }
    },
  });
}

/**
 * `createRoute` plus two things every route needs:
 * - a body guard (413/415/400) after the route's own middleware (auth and permissions), so
 *   checks run in the contract's order: 401, 403, then the body, then 422;
 * - the OpenAPI `security` of its `requireAuth({ scopes })`, unless the route sets its own
 *   (`security: []` for a public route), so scopes are declared once.
 */
export function defineRoute<const R extends RouteConfig>(
  config: R,
): R & { getRoutingPath(): string } {
  const requirement = authRequirementOf(config.middleware);
  const withSecurity = config.security === undefined && requirement
    ? { ...config, security: securityRequirement(requirement.scopes) }
    : config;
  const content = config.request?.body?.content;
  if (!content) return createRoute(withSecurity);
  const own = config.middleware === undefined
    ? []
    : Array.isArray(config.middleware)
    ? config.middleware
    : [config.middleware];
  const guard = bodyGuard(Object.keys(content)) as MiddlewareHandler;
  return createRoute({ ...withSecurity, middleware: [...own, guard] }) as R & {
    getRoutingPath(): string;
  };
}
