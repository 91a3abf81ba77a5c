import { createRouter } from "@/http/router.ts";
import * as handlers from "@/modules/health/health.handlers.ts";
import * as routes from "@/modules/health/health.routes.ts";

/** `/livez` and `/readyz`. */
export function createHealthRouter() {
  return createRouter()
    .openapi(routes.livez, handlers.livez)
    .openapi(routes.readyz, handlers.readyz);
}
