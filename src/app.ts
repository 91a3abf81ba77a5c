/**
 * `createApp(deps)`: the whole HTTP application — middleware in contract order, the resource
 * routers, docs, static files, and one error handler that answers every failure with
 * RFC 9457 problem+json.
 *
 * @module
 */
import type { Context, Hono, Schema } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { UnionToIntersection } from "hono/utils/types";
import {
  DatabaseUnavailableError,
  ForeignKeyViolationError,
  TransactionConflictError,
  UniqueViolationError,
} from "@/db/database.ts";
import type { OwnedDeps } from "@/deps.ts";
import {
  AppError,
  ConflictError,
  problemResponse,
  ServiceUnavailableError,
  TooManyRequestsError,
} from "@/http/errors.ts";
import type { ModuleDescriptor } from "@/http/module.ts";
import { OAUTH2_SCHEME_NAME, oauth2PasswordScheme } from "@/http/openapi.ts";
import { createRouter } from "@/http/router.ts";
import { scopeCatalog } from "@/http/scopes.ts";
import { admissionControl, reportShedding } from "@/middleware/admission.ts";
import type { AppEnv } from "@/middleware/app-env.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { BEARER_SCHEME_NAME } from "@/middleware/authenticate.ts";
import { bearerAuth } from "@/middleware/bearer-auth.ts";
import { cors } from "@/middleware/cors.ts";
import { rejectWhileDraining } from "@/middleware/drain.ts";
import { idempotency } from "@/middleware/idempotency.ts";
import { queryBudget } from "@/middleware/query-budget.ts";
import { createThrottles } from "@/middleware/rate-limit.ts";
import { requestContext } from "@/middleware/request-context.ts";
import { requestTimeout } from "@/middleware/request-timeout.ts";
import { securityHeaders } from "@/middleware/security-headers.ts";
import { staticFiles } from "@/middleware/static-files.ts";
import { versionGate } from "@/middleware/version-gate.ts";
import { MODULES } from "@/modules.ts";
import { adminLoginCheck } from "@/modules/auth/auth.service.ts";
import { createDocsRouter } from "@/modules/docs/docs.index.ts";
import { discoveryUrl } from "@/modules/oidc/oidc-keys.ts";
import { AdmissionGate } from "@/runtime/admission.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { HashQueueFullError } from "@/runtime/passwords.ts";

const STATIC_ROOT = new URL("../static/", import.meta.url);

/** What `createApp` builds on: the app's dependencies, as `createDeps` returns them. */
export type AppBuildDeps = Omit<OwnedDeps, "close" | "oidc"> & Partial<Pick<OwnedDeps, "oidc">>;

/** A module `createApp` can mount: its router is created with the app's dependencies. */
// deno-lint-ignore no-explicit-any
export type AppModule = ModuleDescriptor<ModuleDeps & AppBuildDeps, Hono<any, any, any>>;

/** The paths the `X-Version` gate applies to: every versioned module's base paths. */
export function versionedPaths(modules: readonly AppModule[]): string[] {
  return modules.filter((module) => module.versioned).flatMap((module) => module.basePaths);
}

/**
 * The API paths the `X-Version` gate applies to by default, derived from {@link MODULES}.
 * Never gated: `/versions`, `/livez`, `/readyz`, docs, `/openapi.json`, static files, `/`.
 */
export const VERSIONED_PATH_PREFIXES: readonly string[] = versionedPaths(MODULES);

const HTTP_EXCEPTION_CODES: Record<number, string> = {
  400: "malformed_body",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  413: "content_too_large",
  415: "unsupported_media_type",
  503: "service_unavailable",
};

/** Map anything thrown to an {@link AppError}; `undefined` for a bug (answered as 500). */
export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof HTTPException) {
    return new AppError(
      error.status,
      HTTP_EXCEPTION_CODES[error.status] ?? "http_error",
      error.message || "Request failed",
    );
  }
  if (error instanceof UniqueViolationError) {
    return new ConflictError("Conflicts with existing data");
  }
  if (error instanceof ForeignKeyViolationError) {
    return new AppError(422, "validation_failed", "A referenced resource does not exist");
  }
  if (error instanceof TransactionConflictError) {
    return new ServiceUnavailableError("Conflicting concurrent update; retry the request", {
      cause: error,
      headers: { "Retry-After": "1" },
    });
  }
  if (error instanceof HashQueueFullError) {
    return error.scope === "client"
      ? new TooManyRequestsError(error.retryAfterSeconds, error.message)
      : new ServiceUnavailableError(error.message, {
        headers: { "Retry-After": String(error.retryAfterSeconds) },
      });
  }
  if (error instanceof DatabaseUnavailableError) {
    return new ServiceUnavailableError("Database unavailable", { cause: error });
  }
  return undefined;
}

function requestIdOf(c: Context<AppEnv>): string {
  return c.get("requestId") ?? "unknown";
}

/**
 * Build the application over the given dependencies and modules (by default {@link MODULES}).
 * No globals: tests build one per database.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@/config.ts";
 * import { createDeps } from "@/deps.ts";
 *
 * // The config, database, clock, passwords, lifecycle, ... of an in-memory SQLite instance.
 * const deps = await createDeps(parseConfig({ APP_ENV: "test", DATABASE_URL: "sqlite::memory:" }));
 * try {
 *   const app = createApp(deps);
 *   const res = await app.request("/livez"); // 200
 * } finally {
 *   await deps.close();
 * }
 * ```
 */
export function createApp<const M extends readonly AppModule[] = typeof MODULES>(
  deps: AppBuildDeps,
  modules: M = MODULES as unknown as M,
): AppOf<M> {
  const log = getAppLogger("app");
  const app = createRouter<AppEnv>();
  const { config, metrics } = deps;
  const moduleDeps = createModuleDeps(deps, modules);
  const { scopes, throttles } = moduleDeps;

  app.use(requestContext({ trustProxy: config.http.trustProxy, metrics }));
  app.use(securityHeaders());
  // Preflights carry neither X-Version nor Authorization: answer them before the gate and auth.
  app.use(cors({ allowedOrigins: config.http.corsOrigins }));
  app.use(rejectWhileDraining({ lifecycle: deps.lifecycle }));
  app.use(requestTimeout({ timeoutMs: config.http.requestTimeoutMs }));
  // Every statement of a request draws on one database budget (and the server obeys it).
  app.use(queryBudget({ db: deps.db, ms: config.database.queryTimeoutMs }));
  app.use(methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) => {
      const error = new AppError(
        405,
        "method_not_allowed",
        `Method ${c.req.method} is not allowed here; use ${methods.join(", ")}`,
      );
      return problemResponse(error.toProblem(requestIdOf(c)), { Allow: methods.join(", ") });
    },
  }));

  // Before every router (the probes are exempt); per user once bearer auth knows the user.
  app.use(throttles.api);
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_SCHEME_NAME, {
    type: "http",
    scheme: "bearer",
    description: "An access token from POST /auth/token or POST /auth/refresh",
  });
  app.openAPIRegistry.registerComponent(
    "securitySchemes",
    OAUTH2_SCHEME_NAME,
    oauth2PasswordScheme(scopes.descriptions),
  );
  // The modules the gate never applies to answer before it is registered, so their requests
  // (the probes among them) do not even pay its path check.
  for (const module of modules) {
    if (!module.versioned) app.route("/", module.router(moduleDeps));
  }
  // 426 comes before authentication (401); it applies to the versioned modules' paths only.
  const gated = versionedPaths(modules);
  app.use(versionGate({
    paths: gated,
    versions: deps.versions,
    clock: deps.clock,
    onReject: () => metrics.versionGateRejections.inc(),
  }));
  for (const module of modules) {
    if (module.versioned) app.route("/", module.router(moduleDeps));
  }

  // DOCS_AUTH=basic: the same login throttle as POST /auth/token.
  app.route(
    "/",
    createDocsRouter(app, config, {
      versionedPathPrefixes: gated,
      tags: modules.flatMap((module) => module.tag ? [module.tag] : []),
      openIdConnectUrl: config.oidc && discoveryUrl(config.oidc.issuer),
      throttle: throttles.docsCredential,
      isAdmin: adminLoginCheck(deps),
      clock: deps.clock,
    }),
  );
  app.get("/", (c) => c.redirect("/docs", 302));
  app.use(staticFiles({ root: STATIC_ROOT }));

  app.notFound((c) => {
    const error = new AppError(404, "not_found", `No route for ${c.req.method} ${c.req.path}`);
    return problemResponse(error.toProblem(requestIdOf(c)));
  });

  app.onError((error, c) => {
    const requestId = requestIdOf(c);
    const known = toAppError(error);
    if (known) {
      if (known.status === 503) {
        log.warning("Answered 503: {reason}", {
          reason: known.detail,
          cause: String(known.cause ?? ""),
          request_id: requestId,
        });
      }
      return problemResponse(known.toProblem(requestId), known.headers);
    }
    log.error("Unhandled error while serving {method} {path}", {
      method: c.req.method,
      path: c.req.path,
      request_id: requestId,
      error,
    });
    const internal = new AppError(
      500,
      "internal_error",
      "An unexpected error occurred; quote the request id when reporting it",
    );
    return problemResponse(internal.toProblem(requestId));
  });

  // Load shedding in front of the router, so a refusal or a wait costs next to nothing; Deno.serve
  // and `app.request` both go through `fetch`. Logins wait for Argon2 in the hasher's own bounded
  // queue: gated here as well, a login burst would hold the slots the reads need.
  app.fetch = admissionControl(app.fetch, {
    gate: new AdmissionGate(config.http.admission),
    exempt: ["/livez", "/readyz", "/auth/token"],
    onRefused: reportShedding(log),
  });

  return app as unknown as AppOf<M>;
}

/**
 * What every module's router is created with: the app's dependencies, the scope vocabulary of
 * all the modules, the rate limits, and the middleware its routes' declarations stand for.
 */
export function createModuleDeps(
  deps: AppBuildDeps,
  modules: readonly AppModule[] = MODULES,
): ModuleDeps & AppBuildDeps {
  const scopes = scopeCatalog(modules);
  const throttles = createThrottles(deps);
  return {
    ...deps,
    scopes,
    throttles,
    routing: {
      authenticate: bearerAuth({
        authenticators: deps.authenticators,
        scopesOfRole: scopes.ofRole,
        metrics: deps.metrics,
        throttles,
      }),
      body: {
        limitBytes: deps.config.http.bodyLimitBytes,
        trackUpload: (upload) => deps.lifecycle.trackUpload(upload),
      },
      idempotency: idempotency({
        clock: deps.clock,
        ttlMs: deps.config.http.idempotencyTtlMs,
        abandonAfterMs: 2 * deps.config.http.requestTimeoutMs,
      }),
    },
  };
}

/** The schema (every route with its params, bodies and responses) of a module's router. */
// deno-lint-ignore no-explicit-any
type SchemaOf<R> = R extends Hono<any, infer S, any> ? S : never;

/** The app type of a module list: one Hono whose schema is the sum of the modules' schemas. */
export type AppOf<M extends readonly AppModule[]> = OpenAPIHono<
  AppEnv,
  UnionToIntersection<SchemaOf<ReturnType<M[number]["router"]>>> extends infer S extends Schema ? S
    : never,
  "/"
>;

/** The application type, for typed test clients. */
export type App = AppOf<typeof MODULES>;

/** Every route with its params, bodies and responses: the type `hc<AppType>` is built from. */
export type AppType = App;
