/**
 * `createApp(deps)`: the whole HTTP application — middleware in contract order, the resource
 * routers, docs, static files, and one error handler that answers every failure with
 * RFC 9457 problem+json.
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import {
  DatabaseUnavailableError,
  ForeignKeyViolationError,
  TransactionConflictError,
  UniqueViolationError,
} from "@/db/database.ts";
import type { AppDeps, AppEnv } from "@/middleware/app-env.ts";
import { AppError, ConflictError, problemResponse, ServiceUnavailableError } from "@/http/errors.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { createRouter } from "@/http/router.ts";
import { cors } from "@/middleware/cors.ts";
import { apiRateLimit, docsCredentialThrottle } from "@/middleware/rate-limit.ts";
import { rejectWhileDraining } from "@/middleware/drain.ts";
import { admissionControl, reportShedding } from "@/middleware/admission.ts";
import { AdmissionGate } from "@/runtime/admission.ts";
import { requestContext } from "@/middleware/request-context.ts";
import { queryBudget } from "@/middleware/query-budget.ts";
import { requestTimeout } from "@/middleware/request-timeout.ts";
import { securityHeaders } from "@/middleware/security-headers.ts";
import { staticFiles } from "@/middleware/static-files.ts";
import { versionGate } from "@/middleware/version-gate.ts";
import { BEARER_SCHEME_NAME } from "@/middleware/authenticate.ts";
import { OAUTH2_PASSWORD_SCHEME, OAUTH2_SCHEME_NAME } from "@/http/openapi.ts";
import { createApiKeysRouter } from "@/modules/api-keys/api-keys.index.ts";
import { createAuthRouter } from "@/modules/auth/auth.index.ts";
import { isAdminLogin } from "@/modules/auth/auth.service.ts";
import { createDocsRouter } from "@/modules/docs/docs.index.ts";
import { createHealthRouter } from "@/modules/health/health.index.ts";
import { createItemsRouter } from "@/modules/items/items.index.ts";
import { discoveryUrl } from "@/modules/oidc/oidc-keys.ts";
import { createRolesRouter } from "@/modules/roles/roles.index.ts";
import { createUsersRouter } from "@/modules/users/users.index.ts";
import { createVersionsRouter } from "@/modules/versions/versions.index.ts";

const STATIC_ROOT = new URL("../static/", import.meta.url);

/**
 * The API paths the `X-Version` gate applies to (an allow-list: a new resource must be added
 * here). Never gated: `/versions`, `/livez`, `/readyz`, docs, `/openapi.json`, static files, `/`.
 */
export const VERSIONED_PATH_PREFIXES: readonly string[] = ["/auth", "/users", "/roles", "/items"];

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
  if (error instanceof DatabaseUnavailableError) {
    return new ServiceUnavailableError("Database unavailable", { cause: error });
  }
  return undefined;
}

function requestIdOf(c: Context<AppEnv>): string {
  return c.get("requestId") ?? "unknown";
}

/**
 * Build the application over the given dependencies. No globals: tests build one per database.
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
export function createApp(deps: AppDeps) {
  const log = getAppLogger("app");
  const app = createRouter();

  app.use(requestContext({ deps }));
  app.use(securityHeaders());
  // Preflights carry neither X-Version nor Authorization: answer them before the gate and auth.
  app.use(cors({ allowedOrigins: deps.config.http.corsOrigins }));
  app.use(rejectWhileDraining({ lifecycle: deps.lifecycle }));
  app.use(requestTimeout({ timeoutMs: deps.config.http.requestTimeoutMs }));
  // Every statement of a request draws on one database budget (and the server obeys it).
  app.use(queryBudget({ ms: deps.config.database.queryTimeoutMs }));
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

  // Before every router (the probes are exempt); per user once requireAuth() knows the user.
  app.use(apiRateLimit({ rateLimiter: deps.rateLimiter }));
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_SCHEME_NAME, {
    type: "http",
    scheme: "bearer",
    description: "An access token from POST /auth/token or POST /auth/refresh",
  });
  app.openAPIRegistry.registerComponent(
    "securitySchemes",
    OAUTH2_SCHEME_NAME,
    OAUTH2_PASSWORD_SCHEME,
  );
  // The routers are chained so the returned app's type carries every route (`AppType`, for
  // the typed client of src/client.ts); the order of registration is the order they run in.
  const ungated = app
    .route("/", createHealthRouter())
    .route("/", createVersionsRouter());
  // Before the versioned routers: 426 comes before authentication (401).
  app.use(versionGate({
    paths: VERSIONED_PATH_PREFIXES,
    versions: deps.versions,
    clock: deps.clock,
    onReject: () => deps.metrics.versionGateRejections.inc(),
  }));
  const api = ungated
    .route("/", createAuthRouter())
    .route("/", createApiKeysRouter())
    .route("/", createUsersRouter())
    .route("/", createRolesRouter())
    .route("/", createItemsRouter());

  // DOCS_AUTH=basic: the same login throttle as POST /auth/token.
  app.route(
    "/",
    createDocsRouter(app, deps.config, {
      versionedPathPrefixes: VERSIONED_PATH_PREFIXES,
      openIdConnectUrl: deps.config.oidc && discoveryUrl(deps.config.oidc.issuer),
      throttle: docsCredentialThrottle(),
      isAdmin: isAdminLogin,
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
    gate: new AdmissionGate(deps.config.http.admission),
    exempt: ["/livez", "/readyz", "/auth/token"],
    onRefused: reportShedding(log),
  });

  return api;
}

/** The application type, for typed test clients. */
export type App = ReturnType<typeof createApp>;

/** Every route with its params, bodies and responses: the type `hc<AppType>` is built from. */
export type AppType = App;
