import { defineModule } from "@/http/module.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { createHealthHandlers } from "@/modules/health/health.handlers.ts";
import * as routes from "@/modules/health/health.routes.ts";

/** `/livez` and `/readyz`. */
export const healthModule = defineModule({
  name: "health",
  basePaths: ["/livez", "/readyz"],
  versioned: false,
  tag: {
    name: routes.TAG,
    description: "Liveness and readiness probes for orchestrators and load balancers. Public.",
  },
  router: (deps: ModuleDeps) => {
    const handlers = createHealthHandlers(deps);
    return createAppRouter(deps)
      .openapi(routes.livez, handlers.livez)
      .openapi(routes.readyz, handlers.readyz);
  },
});
