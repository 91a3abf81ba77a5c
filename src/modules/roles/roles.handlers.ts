import type { AppRouteHandler } from "@/middleware/app-router.ts";
import type { GetRoleRoute, ListRolesRoute } from "@/modules/roles/roles.routes.ts";
import * as service from "@/modules/roles/roles.service.ts";

/** The handlers of `/roles`: they need nothing but the request's database. */
export function createRolesHandlers() {
  const listRoles: AppRouteHandler<ListRolesRoute> = async (c) => {
    return c.json(await service.listRoles({ db: c.get("db") }), 200);
  };

  const getRole: AppRouteHandler<GetRoleRoute> = async (c) => {
    const { role_id } = c.req.valid("param");
    return c.json(await service.getRole({ db: c.get("db") }, role_id), 200);
  };

  return { listRoles, getRole };
}
