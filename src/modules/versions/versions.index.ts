import { defineModule } from "@/http/module.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { createVersionsHandlers } from "@/modules/versions/versions.handlers.ts";
import * as routes from "@/modules/versions/versions.routes.ts";
import type { VersionsDeps } from "@/modules/versions/versions.service.ts";
import type { AuditLog } from "@/modules/audit/audit.service.ts";

/** `/versions`: the public list of client versions and their administration. */
export const versionsModule = defineModule({
  name: "versions",
  basePaths: ["/versions"],
  // Clients must always be able to learn which versions they may use.
  versioned: false,
  tag: {
    name: routes.TAG,
    description:
      "Client versions and their support status, which drive the `X-Version` gate: an unknown " +
      "or retired version gets 426, a deprecated one the `Deprecation`/`Sunset` headers. " +
      "Reading is public and never gated; changes are for admins.",
  },
  scopes: {
    "versions:write": { description: "Add and change client versions (admin)", roles: ["admin"] },
  },
  router: (deps: ModuleDeps & VersionsDeps & { readonly auditLog: AuditLog }) => {
    const handlers = createVersionsHandlers(deps);
    return createAppRouter(deps)
      .openapi(routes.listVersions, handlers.listVersions)
      .openapi(routes.getVersion, handlers.getVersion)
      .openapi(routes.createVersion, handlers.createVersion)
      .openapi(routes.updateVersion, handlers.updateVersion);
  },
});
