/**
 * The Prometheus listener: `GET /metrics` on its own port (`METRICS_PORT`), so the public API
 * port never exposes it. Started and stopped by `main.ts` together with the API.
 *
 * @module
 */
import { AggregatorRegistry, Registry } from "prom-client";
import type { Metrics } from "@/runtime/metrics.ts";
import { type ResilientServer, serveResilient } from "@/runtime/resilient-server.ts";

/**
 * The request handler of the metrics listener: `GET /metrics` answers the exposition text,
 * any other path 404, any other method 405.
 */
export function metricsHandler(
  metrics: MetricsSource,
): (request: Request) => Promise<Response> {
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

/** What `/metrics` renders: one process's registry, or the workers' sum (the primary). */
export type MetricsSource = Pick<Metrics, "render" | "contentType">;

/**
 * The handler of a worker's internal metrics listener (loopback only, port chosen by the
 * primary): `GET /metrics.json` answers prom-client's `getMetricsAsJSON()` of this process.
 */
export function metricsJsonHandler(metrics: Metrics): (request: Request) => Promise<Response> {
  return async function metricsJsonHandler(request) {
    const { pathname } = new URL(request.url);
    if (pathname !== "/metrics.json") return new Response("Not found\n", { status: 404 });
    const body = JSON.stringify(await metrics.registry.getMetricsAsJSON());
    return new Response(body, {
      headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
    });
  };
}

/**
 * The sum over the workers: fetches each worker's `/metrics.json` (the URLs `workerUrls`
 * returns at the time of the scrape) and merges them with prom-client's
 * `AggregatorRegistry.aggregate` (counters and histograms summed; a metric declaring another
 * `aggregator`, such as build info's `first`, merged that way). A worker that does not answer
 * within `timeoutMs` (restarting) is left out of that scrape.
 */
export function aggregatedMetrics(
  workerUrls: () => readonly string[],
  timeoutMs = 2_000,
): MetricsSource {
  return {
    contentType: Registry.PROMETHEUS_CONTENT_TYPE,
    async render() {
      const answers = await Promise.all(
        workerUrls().map(async (url) => {
          try {
            const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
            if (!res.ok) {
              await res.body?.cancel();
              return undefined;
            }
            return await res.json() as object[];
          } catch {
            return undefined;
          }
        }),
      );
      const present = answers.filter((a): a is object[] => a !== undefined);
      return await AggregatorRegistry.aggregate(present).metrics();
    },
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
  metrics: MetricsSource,
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
