/**
 * First middleware of every request: request id (a sane incoming `X-Request-Id` is kept,
 * otherwise one is generated, and it is echoed), client address, dependencies on `c.var`, and
 * one access-log line when the response is ready.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppDeps, AppEnv } from "@/lib/app-env.ts";
import { getAppLogger } from "@/lib/logger.ts";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Route label for requests no route matched; keeps log and metric cardinality bounded. */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * The matched route pattern (`/items/:item_id`), or {@link UNMATCHED_ROUTE}.
 * Call after `next()`.
 */
export function matchedRoutePattern(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]!;
    if (route.method !== "ALL") return route.path;
  }
  return UNMATCHED_ROUTE;
}

/** The caller's address: the socket peer, or the proxy's `X-Forwarded-For` entry if trusted. */
export function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    // nginx appends the address it saw last; earlier entries are whatever the client sent.
    const forwarded = c.req.header("x-forwarded-for");
    const last = forwarded?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  const info = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return info?.remoteAddr?.hostname ?? "unknown";
}

/** Set up `c.var` and write the access log. */
export function requestContext(deps: AppDeps): MiddlewareHandler<AppEnv> {
  const accessLog = getAppLogger("http");
  const trustProxy = deps.config.http.trustProxy;
  return async function requestContext(c, next) {
    const started = performance.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("deps", deps);
    c.set("requestId", requestId);
    c.set("clientIp", clientAddress(c, trustProxy));
    await next();
    c.res.headers.set("X-Request-Id", requestId);
    const status = c.res.status;
    const record = {
      method: c.req.method,
      route: matchedRoutePattern(c),
      status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
      request_id: requestId,
      ip: c.var.clientIp,
      user_id: c.var.user?.id ?? null,
      version: c.var.apiVersion ?? null,
    };
    const message = "{method} {route} {status} {duration_ms}ms";
    if (status >= 500) accessLog.error(message, record);
    else accessLog.info(message, record);
  };
}
