/**
 * Answer 503 problem+json when a request takes longer than the configured limit, so a stuck
 * dependency never holds a client forever.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/lib/app-env.ts";
import { ServiceUnavailableError } from "@/lib/errors.ts";

/** Fail the request with 503 after `timeoutMs`. */
export function requestTimeout(timeoutMs: number): MiddlewareHandler<AppEnv> {
  return async function requestTimeout(_c, next) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ServiceUnavailableError(`Request took longer than ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}
