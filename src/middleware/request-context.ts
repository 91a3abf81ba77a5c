/**
 * First middleware of every request: request id (a sane incoming `X-Request-Id` is kept,
 * otherwise one is generated, and it is echoed), client address, and one access-log line when
 * the response is ready.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "@/middleware/app-env.ts";
import type { Metrics } from "@/runtime/metrics.ts";
import { type AccessLogRecord, getAppLogger, logAccess } from "@/runtime/logger.ts";
import type { TrustedProxies } from "@/runtime/trusted-proxies.ts";

/** An incoming `X-Request-Id` that is kept (and may be logged) as it is. */
export const SANE_REQUEST_ID: RegExp = /^[A-Za-z0-9._:-]{1,128}$/;

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

/** Key under which OpenTelemetry (and Deno's built-in implementation) keeps the active span. */
const OTEL_SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/** The part of an OpenTelemetry span this middleware uses. */
interface TraceSpan {
  setAttribute(key: string, value: string): unknown;
  updateName(name: string): unknown;
}

/**
 * With `OTEL_DENO=true`, Deno opens a server span per request named only after the method;
 * give it the route pattern (name and `http.route`, which Deno also copies to its HTTP
 * metrics) and the request id. Without OpenTelemetry there is no span and this costs ~10 ns.
 */
function annotateTraceSpan(method: string, route: string, requestId: string): void {
  const span = Deno.telemetry?.contextManager?.active()?.getValue(OTEL_SPAN_KEY) as
    | TraceSpan
    | undefined;
  if (!span) return;
  span.setAttribute("request.id", requestId);
  if (route !== UNMATCHED_ROUTE) {
    span.updateName(`${method} ${route}`);
    span.setAttribute("http.route", route);
  }
}

/**
 * The caller's address: the socket peer, or, when the peer is a trusted proxy, the first
 * untrusted address of `X-Forwarded-For` read from the right. Always a canonical IP address
 * (bounded in length), or "unknown" when the request came through no socket.
 */
export function clientAddress(c: Context, trustProxy: TrustedProxies): string {
  const info = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  const peer = info?.remoteAddr?.hostname;
  if (peer === undefined) return "unknown";
  // Without a trusted proxy the header is never read: it cannot change the answer.
  const forwardedFor = trustProxy.enabled ? c.req.header("x-forwarded-for") : undefined;
  return trustProxy.clientAddress(peer, forwardedFor);
}

/** Options of {@link requestContext}. */
export interface RequestContextOptions {
  /** Whose `X-Forwarded-For` to believe (TRUST_PROXY). */
  trustProxy: TrustedProxies;
  /** Where each request is counted and timed. */
  metrics: Pick<Metrics, "requestStarted" | "requestEnded" | "observeRequest">;
}

/** Set the context variables, write the access log and count the request in the HTTP metrics. */
export function requestContext(
  { trustProxy, metrics }: RequestContextOptions,
): MiddlewareHandler<AppEnv> {
  const accessLog = getAppLogger("http");
  return async function requestContext(c, next) {
    const started = performance.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("clientIp", clientAddress(c, trustProxy));
    metrics.requestStarted();
    try {
      await next();
    } finally {
      metrics.requestEnded();
    }
    c.res.headers.set("X-Request-Id", requestId);
    const status = c.res.status;
    const route = matchedRoutePattern(c);
    const seconds = (performance.now() - started) / 1000;
    metrics.observeRequest(c.req.method, route, status, seconds);
    annotateTraceSpan(c.req.method, route, requestId);
    const record: AccessLogRecord = {
      method: c.req.method,
      route,
      status,
      duration_ms: Math.round(seconds * 100_000) / 100,
      request_id: requestId,
      ip: c.get("clientIp"),
      user_id: c.get("user")?.id ?? null,
      version: c.get("apiVersion") ?? null,
    };
    const principal = c.get("principal");
    if (principal?.method === "api_key") {
      const keyId = Number(principal.credentialId);
      if (Number.isSafeInteger(keyId)) record.api_key_id = keyId;
    }
    logAccess(accessLog, record);
  };
}
