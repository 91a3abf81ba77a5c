/**
 * The Prometheus listener: `GET /metrics` on its own port (`METRICS_PORT`), so the public API
 * port never exposes it. Started and stopped by `main.ts` together with the API.
 *
 * @module
 */
import type { Metrics } from "@/runtime/metrics.ts";
import { type ResilientServer, serveResilient } from "@/runtime/resilient-server.ts";

/**
 * The request handler of the metrics listener: `GET /metrics` answers the exposition text,
 * any other path 404, any other method 405.
 */
export function metricsHandler(metrics: Metrics): (request: Request) => Promise<Response> {
  return async function metricsHandler(request) {
    const { pathname } = new URL(request.url);
    if (pathname !== "/metrics") return new Response("Not found\n", { status: 404 });
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed\n", { status: 405, headers: { Allow: "GET, HEAD" } });
    }
    const body = await metrics.render();
    return new Response(request.method === "HEAD" ? null : body, {
      headers: { "Content-Type": metrics.contentType, "Cache-Control": "no-store" },
    });
  };
}

/** Options of {@link serveMetrics}. */
export interface MetricsServerOptions {
  hostname: string;
  port: number;
  onListen?: (addr: Deno.NetAddr) => void;
  /** The accept loop stopped (descriptors ran out); called at most once per 10 s. */
  onAcceptStopped?: (error: unknown, occurrences: number) => void;
}

/**
 * Serve `/metrics` on `hostname:port` until `shutdown()` is called.
 *
 * @example
 * ```ts
 * import { createMetrics } from "@/runtime/metrics.ts";
 * import { serveMetrics } from "@/runtime/metrics-server.ts";
 *
 * // `main.ts` listens on METRICS_PORT; port 0 picks any free one.
 * const server = serveMetrics(createMetrics({ version: "1.0.0" }), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * try {
 *   const res = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`);
 *   await res.text(); // the Prometheus text format: "# HELP ..."
 * } finally {
 *   await server.shutdown();
 * }
 * ```
 */
export function serveMetrics(
  metrics: Metrics,
  options: MetricsServerOptions,
): ResilientServer {
  // Resilient like the API listener: a scrape that arrives while descriptors are exhausted
  // must not end the accept loop for good (nor reject a promise nobody handles).
  return serveResilient({
    hostname: options.hostname,
    port: options.port,
    onListen: options.onListen ?? (() => {}),
    onAcceptStopped: options.onAcceptStopped,
  }, metricsHandler(metrics));
}
