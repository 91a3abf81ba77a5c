/**
 * `/openapi.json`, `/docs` (Scalar), `/docs/swagger` (Swagger UI) and their assets under
 * `/docs/assets/`, all behind `DOCS_AUTH`. Plain Hono routes, so none of them appears in the
 * OpenAPI document itself.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import type { Config } from "@/config.ts";
import type { AppEnv } from "@/middleware/app-env.ts";
import { ServiceUnavailableError } from "@/http/errors.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import {
  type AdminCredentialCheck,
  type CredentialThrottle,
  docsBasicAuth,
} from "@/middleware/docs-auth.ts";
import { DocsAssetMissingError, DocsAssets } from "@/modules/docs/docs.assets.ts";
import {
  docsPageCsp,
  OPENAPI_PATH,
  SCALAR_INIT_SCRIPT,
  SCALAR_PAGE,
  SWAGGER_INIT_SCRIPT,
  SWAGGER_PAGE,
} from "@/modules/docs/docs.pages.ts";
import {
  buildOpenApiDocument,
  type OpenApiDocumentOptions,
} from "@/modules/docs/openapi-document.ts";
import type { Clock } from "@/runtime/clock.ts";

/** Options of {@link createDocsRouter}. */
export interface DocsRouterOptions extends OpenApiDocumentOptions {
  /** The login throttle for `DOCS_AUTH=basic` (see {@link CredentialThrottle}). */
  throttle?: CredentialThrottle | undefined;
  /** How `DOCS_AUTH=basic` verifies an admin's login. */
  isAdmin: AdminCredentialCheck;
  /** How long a checked docs login is remembered is measured on this clock. */
  clock: Clock;
  /** Asset store; one per process by default. */
  assets?: DocsAssets;
}

/** Shared by every app in the process: the files never change while it runs. */
const sharedAssets = new DocsAssets();

interface Cached {
  body: Uint8Array<ArrayBuffer>;
  etag: string;
}

async function cached(text: string): Promise<Cached> {
  const body = new TextEncoder().encode(text);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  const etag = `"${
    Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("")
  }"`;
  return { body, etag };
}

function notModified(c: Context, etag: string): boolean {
  const match = c.req.header("if-none-match");
  return match !== undefined && match.split(",").some((tag) => tag.trim() === etag);
}

/**
 * The docs router. `api` is the application whose OpenAPI routes the document describes; the
 * document is generated on the first request (every route exists by then) and kept.
 */
export function createDocsRouter(
  api: OpenAPIHono<AppEnv>,
  config: Config,
  options: DocsRouterOptions,
): Hono<AppEnv> {
  const log = getAppLogger("docs");
  const assets = options.assets ?? sharedAssets;
  const router = new Hono<AppEnv>();
  const guard: MiddlewareHandler<AppEnv> = config.docsAuth === "basic"
    ? docsBasicAuth({ isAdmin: options.isAdmin, throttle: options.throttle, clock: options.clock })
    : (_c, next) => next();
  const cacheControl = config.docsAuth === "basic" ? "private, no-cache" : "no-cache";

  let documentJson: Promise<Cached> | undefined;
  router.get(OPENAPI_PATH, guard, async (c) => {
    documentJson ??= cached(JSON.stringify(buildOpenApiDocument(api, options)));
    const { body, etag } = await documentJson;
    const headers = {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": cacheControl,
      ETag: etag,
    };
    if (notModified(c, etag)) return c.body(null, 304, headers);
    return c.body(body, 200, headers);
  });

  router.get("/docs", guard, (c) =>
    c.html(SCALAR_PAGE, 200, {
      "Content-Security-Policy": docsPageCsp("scalar"),
      "Cache-Control": cacheControl,
    }));
  router.get("/docs/", guard, (c) => c.redirect("/docs", 308));
  router.get("/docs/swagger", guard, (c) =>
    c.html(SWAGGER_PAGE, 200, {
      "Content-Security-Policy": docsPageCsp("swagger"),
      "Cache-Control": cacheControl,
    }));

  const initScripts = new Map<string, Promise<Cached>>([
    ["scalar/init.js", cached(SCALAR_INIT_SCRIPT)],
    ["swagger-ui/init.js", cached(SWAGGER_INIT_SCRIPT)],
  ]);
  router.get("/docs/assets/:name{.+}", guard, async (c, next) => {
    const name = c.req.param("name");
    const init = initScripts.get(name);
    if (init) {
      const { body, etag } = await init;
      const headers = {
        "Content-Type": "text/javascript; charset=utf-8",
        "Cache-Control": cacheControl,
        ETag: etag,
      };
      if (notModified(c, etag)) return c.body(null, 304, headers);
      return c.body(body, 200, headers);
    }
    if (!DocsAssets.has(name)) return next();
    let asset;
    try {
      asset = await assets.get(name);
    } catch (error) {
      if (!(error instanceof DocsAssetMissingError)) throw error;
      log.error("{message}", { message: error.message, request_id: c.get("requestId") });
      throw new ServiceUnavailableError("The docs assets are missing from this build");
    }
    const gzip = /\bgzip\b/i.test(c.req.header("accept-encoding") ?? "");
    // Each encoding is its own representation, so each gets its own strong validator.
    const etag = gzip ? `${asset.etag.slice(0, -1)}-gzip"` : asset.etag;
    const headers: Record<string, string> = {
      "Content-Type": asset.type,
      "Cache-Control": cacheControl,
      ETag: etag,
      Vary: "Accept-Encoding",
    };
    if (notModified(c, etag)) return c.body(null, 304, headers);
    if (gzip) headers["Content-Encoding"] = "gzip";
    return c.body(gzip ? asset.gzip : asset.body, 200, headers);
  });

  return router;
}
