/**
 * Load shedding at the door: requests beyond the {@link AdmissionGate}'s bound are answered
 * 503 with `Retry-After` at once. The gate wraps the application's `fetch`, in front of the
 * router: measured under overload, a refusal that went through the middleware chain (request
 * id, access log line, security headers, problem body) cost about as much CPU as a served read,
 * so 256 connections spinning on instant refusals starved the admitted work; and a request
 * waiting for its turn holds nothing but itself. The probes are never shed: an overloaded
 * instance is alive, and `/readyz` must keep telling the truth about the database.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { AdmissionGate } from "@/runtime/admission.ts";
import { PROBLEM_CONTENT_TYPE } from "@/http/errors.ts";
import { SANE_REQUEST_ID } from "@/middleware/request-context.ts";
import { API_SECURITY_HEADERS } from "@/middleware/security-headers.ts";

/** Options of {@link admissionControl}. */
export interface AdmissionControlOptions {
  gate: AdmissionGate;
  /** Paths that bypass the gate. */
  exempt?: readonly string[];
  /** `Retry-After` of a refusal, in seconds. */
  retryAfterSeconds?: number;
  /** Called on every refusal (cheap: a counter, a throttled log line). */
  onRefused?: () => void;
}

/** The path of an absolute request URL, without parsing all of it. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query === -1 ? undefined : query);
}

/** The 503 of a refusal: problem+json with `Retry-After` and the usual security headers. */
function refusal(request: Request, retryAfter: string): Response {
  // The proxy's request id, when it sent a sane one, so its log and the client can match them.
  const incoming = request.headers.get("x-request-id");
  const requestId = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  const body = `{"type":"https://items-api.dev/problems/service-unavailable",` +
    `"title":"Service Unavailable","status":503,` +
    `"detail":"Server is at capacity; retry shortly","code":"service_unavailable",` +
    `"request_id":"${requestId}"}`;
  const headers = new Headers(API_SECURITY_HEADERS as Array<[string, string]>);
  headers.set("Content-Type", PROBLEM_CONTENT_TYPE);
  headers.set("Cache-Control", "no-store");
  headers.set("Retry-After", retryAfter);
  headers.set("X-Request-Id", requestId);
  return new Response(body, { status: 503, headers });
}

/**
 * Wrap `fetch` so that requests pass through `gate` first; a refused one gets 503 problem+json
 * with `Retry-After` at once.
 *
 * @example
 * ```ts
 * import { admissionControl } from "@/middleware/admission.ts";
 * import { AdmissionGate } from "@/runtime/admission.ts";
 *
 * // The app wraps its own `fetch`, with a gate of `config.http.admission`.
 * const gate = new AdmissionGate({ maxInFlight: 1, queueLimit: 0, queueTimeoutMs: 500 });
 * const handler = (_request: Request) => new Response("ok");
 * const gated = admissionControl(handler, { gate, exempt: ["/livez"] });
 * await gated(new Request("http://localhost/items")); // 200
 * gate.enter(); // the one slot is taken now...
 * await gated(new Request("http://localhost/items")); // 503 with Retry-After: 1
 * await gated(new Request("http://localhost/livez")); // 200: exempt
 * gate.leave();
 * ```
 */
export function admissionControl<A extends unknown[]>(
  fetch: (request: Request, ...rest: A) => Response | Promise<Response>,
  options: AdmissionControlOptions,
): (request: Request, ...rest: A) => Promise<Response> {
  const { gate, onRefused } = options;
  const exempt = new Set(options.exempt ?? []);
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  return async function admissionControl(request, ...rest) {
    if (exempt.has(pathOf(request.url))) return await fetch(request, ...rest);
    const entered = gate.enter();
    const admitted = entered === true || (entered !== false && await entered);
    if (!admitted) {
      onRefused?.();
      return refusal(request, retryAfter);
    }
    try {
      return await fetch(request, ...rest);
    } finally {
      gate.leave();
    }
  };
}

/** How often {@link reportShedding} logs at most. */
const SHEDDING_REPORT_INTERVAL_MS = 10_000;

/**
 * An `onRefused` that logs one warning per interval with the number of refusals since the
 * last one, instead of one line per refused request.
 */
export function reportShedding(log: Logger): () => void {
  let refused = 0;
  let last = -Infinity;
  return function reportShedding() {
    refused++;
    const now = performance.now();
    if (now - last < SHEDDING_REPORT_INTERVAL_MS) return;
    log.warning("At capacity: refused {refused} request(s) with 503 since the last report", {
      refused,
    });
    refused = 0;
    last = now;
  };
}
