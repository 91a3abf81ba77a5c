/**
 * The router factory every module builds on. Routes are declarations (`defineRoute`): what a
 * route needs — an authenticated caller, a body of some media types — it states; the router,
 * created with the app's dependencies, turns each statement into middleware when the route is
 * registered. One `defaultHook` turns validation failures into 422 problems.
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
import type { Env, MiddlewareHandler } from "hono";
import { type FieldError, ValidationError } from "@/http/errors.ts";
import { IDEMPOTENCY_KEY_PARAMETER, securityRequirement } from "@/http/openapi.ts";
import { bodyGuard, type BodyLimits } from "@/http/body-guard.ts";

/**
 * A handler whose params, body, responses and variables are typed by its route definition:
 * the variables its route's middleware set (such as `user` after `requireAuth()`) are
 * there without a run-time check.
 */
export type RouteHandlerOf<E extends Env, R extends RouteConfig> = RouteHandler<
  R,
  E & RouteConfigToEnv<R>
>;

/** What a route's `requireAuth()` demands; the router's `authenticate` enforces it. */
export interface AuthRequirement {
  /** Scopes the credential must hold (all of them); also the route's OpenAPI `security`. */
  readonly scopes: readonly string[];
  /** Only these kinds of credential may call the route (undefined: any). */
  readonly methods: readonly string[] | undefined;
}

/** A route middleware that only states a requirement; the router puts the real one there. */
export type AuthDeclaration = MiddlewareHandler & { readonly authRequirement: AuthRequirement };

/** Declare an auth requirement in a route's `middleware` (see `requireAuth()`). */
export function declareAuth(requirement: AuthRequirement): AuthDeclaration {
  // Never runs: the router puts the real middleware in its place (or refuses the route).
  const declaration: MiddlewareHandler = (_c, next) => next();
  return Object.assign(declaration, { authRequirement: requirement });
}

/** The requirement of the first auth declaration among a route's middleware, if any. */
export function authRequirementOf(middleware: unknown): AuthRequirement | undefined {
  const list = Array.isArray(middleware) ? middleware : [middleware];
  for (const handler of list) {
    if (typeof handler === "function" && "authRequirement" in handler) {
      return (handler as AuthDeclaration).authRequirement;
    }
  }
  return undefined;
}

/** A create that takes an `Idempotency-Key`; the router puts its middleware in place. */
type IdempotencyDeclaration = MiddlewareHandler & { readonly idempotent: true };

/** Declare that a create route takes an `Idempotency-Key` (see `idempotent()`). */
export function declareIdempotent(): IdempotencyDeclaration {
  // Never runs: the router puts the real middleware in its place (or refuses the route).
  const declaration: MiddlewareHandler = (_c, next) => next();
  return Object.assign(declaration, { idempotent: true as const });
}

function isIdempotencyDeclaration(handler: unknown): boolean {
  return typeof handler === "function" && "idempotent" in handler;
}

/** The body a route declares, stated by `defineRoute` and guarded by the router. */
type BodyDeclaration = MiddlewareHandler & { readonly bodyMediaTypes: readonly string[] };

function declareBody(mediaTypes: readonly string[]): BodyDeclaration {
  const declaration: MiddlewareHandler = (_c, next) => next();
  return Object.assign(declaration, { bodyMediaTypes: mediaTypes });
}

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

/** What a router is created with: the middleware its routes' declarations stand for. */
export interface RouterOptions {
  /** The bearer-auth middleware enforcing a route's `requireAuth()` declaration. */
  authenticate?: (requirement: AuthRequirement) => MiddlewareHandler;
  /** Limits of every declared request body (413/415/400 before validation). */
  body?: BodyLimits;
  /** The middleware of routes that take an `Idempotency-Key` (after auth and the body guard). */
  idempotency?: MiddlewareHandler;
}

/**
 * A router with the app's `defaultHook`, whose `openapi(route, handler)` puts the middleware
 * the route declares (auth, body guard) in place of their declarations.
 *
 * @example
 * ```ts
 * import { z } from "@hono/zod-openapi";
 * import { createRouter, defineRoute } from "@/http/router.ts";
 *
 * const hello = defineRoute({
 *   method: "get",
 *   path: "/hello",
 *   responses: { 200: { description: "A greeting" } },
 * });
 * const router = createRouter().openapi(hello, (c) => c.text("Hello", 200));
 * const res = await router.request("/hello"); // 200 "Hello"
 * ```
 */
export function createRouter<E extends Env = Env>(options: RouterOptions = {}): OpenAPIHono<E> {
  const router = new OpenAPIHono<E>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new ValidationError(toFieldErrors(result.target, result.error.issues));
      }
    },
  });
  const register = router.openapi.bind(router);
  const enforce = (handler: unknown, route: RouteConfig): unknown => {
    if (typeof handler !== "function") return handler;
    const declares = "authRequirement" in handler
      ? "authenticate"
      : "bodyMediaTypes" in handler
      ? "body"
      : "idempotent" in handler
      ? "idempotency"
      : undefined;
    if (declares && !options[declares]) {
      throw new Error(
        `${route.method.toUpperCase()} ${route.path} declares what its router cannot enforce: ` +
          `create the router with the \`${declares}\` option (createAppRouter(deps) does)`,
      );
    }
    if ("authRequirement" in handler && options.authenticate) {
      const requirement = (handler as AuthDeclaration).authRequirement;
      // Still carries its requirement: the API limit leaves authenticated routes to it.
      return Object.assign(options.authenticate(requirement), { authRequirement: requirement });
    }
    if ("idempotent" in handler && options.idempotency) return options.idempotency;
    if ("bodyMediaTypes" in handler && options.body) {
      const { bodyMediaTypes } = handler as BodyDeclaration;
      return bodyGuard({ ...options.body, mediaTypes: bodyMediaTypes });
    }
    return handler;
  };
  router.openapi = ((route: RouteConfig, ...rest: unknown[]) => {
    const middleware = route.middleware;
    const enforced = middleware === undefined ? route : {
      ...route,
      // An idempotent create's key is checked last: after auth (the caller scopes it) and
      // after the body guard (the body is read within its limit).
      middleware: (Array.isArray(middleware) ? middleware : [middleware])
        .toSorted((a, b) =>
          Number(isIdempotencyDeclaration(a)) - Number(isIdempotencyDeclaration(b))
        )
        .map((handler) => enforce(handler, route)),
    };
    return (register as (...args: unknown[]) => unknown)(enforced, ...rest);
  }) as typeof router.openapi;
  return router;
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
  const own = config.middleware === undefined
    ? []
    : Array.isArray(config.middleware)
    ? config.middleware
    : [config.middleware];
  if (own.some(isIdempotencyDeclaration)) {
    config = { ...config, parameters: [...(config.parameters ?? []), IDEMPOTENCY_KEY_PARAMETER] };
  }
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
  const guard = declareBody(Object.keys(content));
  return createRoute({ ...withSecurity, middleware: [...own, guard] }) as R & {
    getRoutingPath(): string;
  };
}
