import type { AppDeps } from "@/middleware/app-deps.ts";
import type { AppRouteHandler } from "@/middleware/app-router.ts";
import { ServiceUnavailableError } from "@/http/errors.ts";
import { ReadinessCheck } from "@/modules/health/readiness.ts";
import type { LivezRoute, ReadyzRoute } from "@/modules/health/health.routes.ts";

/** How long `/readyz` waits for the database before answering 503. */
const READINESS_PING_MS = 1_000;

/**
 * The probes, created with the app's database (pinged without a request's budget) and its
 * lifecycle; one rationed readiness check per app.
 */
export function createHealthHandlers({ db, lifecycle }: Pick<AppDeps, "db" | "lifecycle">) {
  const check = new ReadinessCheck(() => db.ping(READINESS_PING_MS));

  const livez: AppRouteHandler<LivezRoute> = (c) => c.json({ status: "ok" as const }, 200);

  const readyz: AppRouteHandler<ReadyzRoute> = async (c) => {
    if (lifecycle.shuttingDown) throw new ServiceUnavailableError("Shutting down");
    try {
      await check.check();
    } catch (error) {
      throw new ServiceUnavailableError("Database unavailable", { cause: error });
    }
    return c.json({ status: "ok" as const }, 200);
  };

  return { livez, readyz };
}
