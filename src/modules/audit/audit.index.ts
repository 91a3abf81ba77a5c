import { defineModule } from "@/http/module.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { createAuditHandlers } from "@/modules/audit/audit.handlers.ts";
import * as routes from "@/modules/audit/audit.routes.ts";

/** `GET /audit-events`: the append-only record of privileged changes, for admins. */
export const auditModule = defineModule({
  name: "audit",
  basePaths: ["/audit-events"],
  versioned: true,
  tag: {
    name: routes.TAG,
    description: "The append-only record of privileged changes: accounts, sessions, API keys, " +
      "client versions and break-glass commands. Admins only; nothing changes it over HTTP.",
  },
  scopes: { "audit:read": { description: "Read the audit trail (admin)", roles: ["admin"] } },
  router: (deps: ModuleDeps) => {
    const handlers = createAuditHandlers(deps);
    return createAppRouter(deps).openapi(routes.listAuditEvents, handlers.listAuditEvents);
  },
});
