import type { AppRouteHandler } from "@/http/router.ts";
import { ServiceUnavailableError } from "@/http/errors.ts";
import { ReadinessCheck } from "@/modules/health/readiness.ts";
import type { LivezRoute, ReadyzRoute } from "@/modules/health/health.routes.ts";

/** How long `/readyz` waits for the database before answering 503. */
const READINESS_PING_MS = 1_000;

/**
 * One rationed check per app, keyed by its lifecycle (`deps.db` is each request's own view of
 * the database, so it cannot be the key).
 */
const checks = new WeakMap<object, ReadinessCheck>();

export const livez: AppRouteHandler<LivezRoute> = (c) => c.json({ status: "ok" as const }, 200);

export const readyz: AppRouteHandler<ReadyzRoute> = async (c) => {
  const { db, lifecycle } = c.get("deps");
  if (lifecycle.shuttingDown) throw new ServiceUnavailableError("Shutting down");
  let check = checks.get(lifecycle);
  if (!check) {
    check = new ReadinessCheck(() => db.ping(READINESS_PING_MS));
    checks.set(lifecycle, check);
  }
  try {
    await check.check();
  } catch (error) {
    throw new ServiceUnavailableError("Database unavailable", { cause: error });
  }
  return c.json({ status: "ok" as const }, 200);
};
