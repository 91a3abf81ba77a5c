/**
 * CORS for the browser origins in `CORS_ORIGINS`, and for no other. An allowed origin gets its
 * own value echoed in `Access-Control-Allow-Origin`; a foreign one gets no CORS header at all
 * (never `*`, never the foreign value), so the browser keeps the response from its page.
 * Preflights are answered here, before the version gate and authentication, because a browser
 * sends them without `X-Version` or `Authorization`.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";
import { AppError, problemResponse } from "@/http/errors.ts";

/** Methods a cross-origin caller may use. */
export const CORS_ALLOW_METHODS = ["GET", "HEAD", "POST", "PATCH", "DELETE"] as const;

/** Request headers a cross-origin caller may send. */
export const CORS_ALLOW_HEADERS = [
  "Authorization",
  "Content-Type",
  "X-Version",
  "X-Request-Id",
] as const;

/** Response headers a cross-origin page may read (besides the CORS-safelisted ones). */
export const CORS_EXPOSE_HEADERS = [
  "X-Request-Id",
  "Deprecation",
  "Sunset",
  "RateLimit",
  "RateLimit-Policy",
  "Retry-After",
  "WWW-Authenticate",
  "Location",
] as const;

/** How long a browser may reuse a preflight answer, in seconds (Chromium caps it at 7200). */
export const CORS_MAX_AGE_SECONDS = 600;

function addVaryOrigin(headers: Headers): void {
  const vary = headers.get("Vary");
  if (!vary) {
    headers.set("Vary", "Origin");
  } else if (!vary.split(",").some((v) => ["origin", "*"].includes(v.trim().toLowerCase()))) {
    headers.set("Vary", `${vary}, Origin`);
  }
}

/** Options of {@link cors}. */
export interface CorsOptions {
  /** Origins allowed to call the API from a browser (CORS_ORIGINS); empty: same-origin only. */
  allowedOrigins: readonly string[];
}

/**
 * Answer preflights and label responses for the allowed origins. With an empty list nothing is
 * ever allowed (same-origin only) and every preflight gets 403.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import type { AppEnv } from "@/middleware/app-env.ts";
 * import { cors } from "@/middleware/cors.ts";
 *
 * // The app passes `config.http.corsOrigins` (CORS_ORIGINS).
 * const app = new Hono<AppEnv>()
 *   .use(cors({ allowedOrigins: ["https://app.example.com"] }))
 *   .get("/items", (c) => c.json([]));
 * const res = await app.request("/items", { headers: { Origin: "https://app.example.com" } });
 * res.headers.get("Access-Control-Allow-Origin"); // "https://app.example.com"
 * await app.request("/items", {
 *   method: "OPTIONS",
 *   headers: { Origin: "https://elsewhere.example", "Access-Control-Request-Method": "GET" },
 * }); // 403: a preflight from an origin not in the list
 * ```
 */
export function cors({ allowedOrigins }: CorsOptions): MiddlewareHandler<AppEnv> {
  const allowed = new Set(allowedOrigins);
  const preflightHeaders: Record<string, string> = {
    "Access-Control-Allow-Methods": CORS_ALLOW_METHODS.join(", "),
    "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS.join(", "),
    "Access-Control-Max-Age": String(CORS_MAX_AGE_SECONDS),
    "Cache-Control": "no-store",
  };
  const exposeHeaders = CORS_EXPOSE_HEADERS.join(", ");
  return async function cors(c, next) {
    const isPreflight = c.req.method === "OPTIONS" &&
      c.req.header("access-control-request-method") !== undefined;
    // Same-origin only: nothing to add to ordinary requests.
    if (allowed.size === 0 && !isPreflight) return next();
    const origin = c.req.header("origin");
    const isAllowed = origin !== undefined && allowed.has(origin);

    if (isPreflight) {
      if (!isAllowed) {
        const error = new AppError(
          403,
          "cors_origin_not_allowed",
          "Cross-origin requests from this origin are not allowed",
        );
        const res = problemResponse(error.toProblem(c.get("requestId")));
        if (allowed.size > 0) addVaryOrigin(res.headers);
        return res;
      }
      const headers = new Headers(preflightHeaders);
      headers.set("Access-Control-Allow-Origin", origin);
      addVaryOrigin(headers);
      return new Response(null, { status: 204, headers });
    }

    await next();
    // The answer depends on Origin (some origin is allowed): caches must know that.
    addVaryOrigin(c.res.headers);
    if (isAllowed) {
      c.res.headers.set("Access-Control-Allow-Origin", origin);
      c.res.headers.set("Access-Control-Expose-Headers", exposeHeaders);
    }
  };
}
