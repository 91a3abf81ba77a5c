import { createRouter } from "@/http/router.ts";
import * as handlers from "@/modules/roles/roles.handlers.ts";
import * as routes from "@/modules/roles/roles.routes.ts";

/** `GET /roles` and `GET /roles/{role_id}`. */
export function createRolesRouter() {
  return createRouter()
    .openapi(routes.listRoles, handlers.listRoles)
    .openapi(routes.getRole, handlers.getRole);
}
