import { defineModule } from "@/http/module.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { createRolesHandlers } from "@/modules/roles/roles.handlers.ts";
import * as routes from "@/modules/roles/roles.routes.ts";

/** `GET /roles` and `GET /roles/{role_id}`. */
export const rolesModule = defineModule({
  name: "roles",
  basePaths: ["/roles"],
  versioned: true,
  tag: {
    name: routes.TAG,
    description: "The roles an account can have (`admin`, `user`). Public.",
  },
  router: (deps: ModuleDeps) => {
    const handlers = createRolesHandlers();
    return createAppRouter(deps)
      .openapi(routes.listRoles, handlers.listRoles)
      .openapi(routes.getRole, handlers.getRole);
  },
});
