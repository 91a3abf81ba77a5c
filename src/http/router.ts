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
import type { AppEnv } from "@/middleware/app-env.ts";
import { type FieldError, ValidationError } from "@/http/errors.ts";
import { securityRequirement } from "@/http/openapi.ts";
import { authRequirementOf } from "@/middleware/authenticate.ts";
import { bodyGuard } from "@/http/body-guard.ts";

/**
 * A handler whose params, body, responses and variables are typed by its route definition:
 * the variables its route's middleware set (such as `user` after `requireAuth()`) are
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
  code?: string;
  keys?: readonly string[];
}

/**
 * Bounds of a 422's `errors`, so its size does not grow with the body: a 1 MB body of unknown
 * keys is answered with a few hundred bytes, not a list of every key.
 */
export const FIELD_ERRORS_MAX = 20;
/** Unknown keys named in one error; the rest are counted. */
export const UNKNOWN_KEYS_LISTED_MAX = 10;
/** Longest key name or path segment quoted back (in UTF-16 units). */
const QUOTED_NAME_MAX_LENGTH = 64;
const MESSAGE_MAX_LENGTH = 300;

function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  // Never cut a surrogate pair in half: the answer must stay well-formed JSON text.
  const cut = text.slice(0, max).replace(/[\uD800-\uDBFF]$/, "");
  return `${cut}…`;
}

function issueMessage(issue: ZodIssueLike): string {
  if (issue.code === "unrecognized_keys" && issue.keys) {
    const listed = issue.keys.slice(0, UNKNOWN_KEYS_LISTED_MAX)
      .map((key) => JSON.stringify(clip(key, QUOTED_NAME_MAX_LENGTH)));
    const rest = issue.keys.length - listed.length;
    const noun = issue.keys.length === 1 ? "key" : "keys";
    return `Unrecognized ${noun}: ${listed.join(", ")}${rest > 0 ? ` and ${rest} more` : ""}`;
  }
  return clip(issue.message, MESSAGE_MAX_LENGTH);
}

/**
 * Turn zod issues into `[{ path: "body.name", message }]`: at most {@link FIELD_ERRORS_MAX}
 * (then one entry counting the rest), unknown keys listed up to
 * {@link UNKNOWN_KEYS_LISTED_MAX} with a count of the others.
 */
export function toFieldErrors(target: string, issues: readonly ZodIssueLike[]): FieldError[] {
  const location = LOCATIONS[target] ?? target;
  const errors = issues.slice(0, FIELD_ERRORS_MAX).map((issue) => ({
    path: [location, ...issue.path.map((p) => clip(String(p), QUOTED_NAME_MAX_LENGTH))].join("."),
    message: issueMessage(issue),
  }));
  const rest = issues.length - errors.length;
  if (rest > 0) errors.push({ path: location, message: `And ${rest} more error(s)` });
  return errors;
}

/**
 * A router with the app's `defaultHook`.
 *
 * @example
 * ```ts ignore
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

const requiredBodies = new Set<string>();

/**
 * Whether `method path` declared a required body that accepts several media types. For those,
 * the route is registered with `required: false` — zod-openapi would otherwise run the
 * validator of every media type on each request — and the handler answers 422 without a body;
 * the document still says `required: true`.
 */
export function isRequiredBody(method: string, path: string): boolean {
  return requiredBodies.has(`${method.toLowerCase()} ${path}`);
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
  let withSecurity = config.security === undefined && requirement
    ? { ...config, security: securityRequirement(requirement.scopes) }
    : config;
  const body = config.request?.body;
  const content = body?.content;
  if (!content) return createRoute(withSecurity);
  if (body?.required === true && Object.keys(content).length > 1) {
    requiredBodies.add(`${config.method} ${config.path}`);
    withSecurity = {
      ...withSecurity,
      request: { ...withSecurity.request, body: { ...body, required: false } },
    };
  }
  const own = config.middleware === undefined
    ? []
    : Array.isArray(config.middleware)
    ? config.middleware
    : [config.middleware];
  const guard = bodyGuard({ mediaTypes: Object.keys(content) }) as MiddlewareHandler;
  return createRoute({ ...withSecurity, middleware: [...own, guard] }) as R & {
    getRoutingPath(): string;
  };
}
