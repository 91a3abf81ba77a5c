/**
 * While the process drains after SIGTERM, turn new requests away with 503 and
 * `Connection: close`, so clients retry on another instance instead of starting work here.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";
import { ServiceUnavailableError } from "@/http/errors.ts";
import type { Lifecycle } from "@/runtime/lifecycle.ts";

/** Options of {@link rejectWhileDraining}. */
export interface DrainOptions {
  /** Says whether shutdown began. */
  lifecycle: Lifecycle;
}

/** Answer 503 to requests that arrive after shutdown began. */
export function rejectWhileDraining({ lifecycle }: DrainOptions): MiddlewareHandler<AppEnv> {
  return async function rejectWhileDraining(_c, next) {
    if (lifecycle.shuttingDown) {
      throw new ServiceUnavailableError("Shutting down", { headers: { Connection: "close" } });
    }
    await next();
  };
}
