/**
 * Answer 503 problem+json when a request takes longer than the configured limit, so a stuck
 * dependency never holds a client forever.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";
import { DeadlineQueue, raceDeadline } from "@/runtime/deadlines.ts";
import { ServiceUnavailableError } from "@/http/errors.ts";

/** Options of {@link requestTimeout}. */
export interface RequestTimeoutOptions {
  /** How long a request may take (REQUEST_TIMEOUT). */
  timeoutMs: number;
}

/** Fail the request with 503 after `timeoutMs` (one timer for all requests in flight). */
export function requestTimeout({ timeoutMs }: RequestTimeoutOptions): MiddlewareHandler<AppEnv> {
  const deadlines = new DeadlineQueue(timeoutMs);
  const expired = () => new ServiceUnavailableError(`Request took longer than ${timeoutMs} ms`);
  return function requestTimeout(_c, next) {
    return raceDeadline(next(), deadlines, expired);
  };
}
