/**
 * Load shedding at the door: requests beyond the {@link AdmissionGate}'s bound are answered
 * 503 with `Retry-After` at once, before authentication or any database work, so the requests
 * that are admitted finish in time. The probes are never shed: an overloaded instance is alive,
 * and `/readyz` must keep telling the truth about the database.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { MiddlewareHandler } from "hono";
import type { AdmissionGate } from "@/lib/admission.ts";
import type { AppEnv } from "@/lib/app-env.ts";
import { problemResponse, ServiceUnavailableError } from "@/lib/errors.ts";

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

/** Admit a request through `gate`, or answer 503 problem+json with `Retry-After` at once. */
export function admissionControl(options: AdmissionControlOptions): MiddlewareHandler<AppEnv> {
  const { gate, onRefused } = options;
  const exempt = new Set(options.exempt ?? []);
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  return async function admissionControl(c, next) {
    if (exempt.has(c.req.path)) return await next();
    const entered = gate.enter();
    const admitted = entered === true || (entered !== false && await entered);
    if (!admitted) {
      onRefused?.();
      const error = new ServiceUnavailableError("Server is at capacity; retry shortly", {
        headers: { "Retry-After": retryAfter },
      });
      // Answered here, not thrown: onError logs every 503 it makes, which under overload is
      // exactly the work to avoid.
      return problemResponse(error.toProblem(c.get("requestId")), error.headers);
    }
    try {
      await next();
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
