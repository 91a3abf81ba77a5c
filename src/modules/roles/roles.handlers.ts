import type { AppRouteHandler } from "@/http/router.ts";
import type { GetRoleRoute, ListRolesRoute } from "@/modules/roles/roles.routes.ts";
import * as service from "@/modules/roles/roles.service.ts";

export const listRoles: AppRouteHandler<ListRolesRoute> = async (c) => {
  return c.json(await service.listRoles(c.get("deps")), 200);
};

export const getRole: AppRouteHandler<GetRoleRoute> = async (c) => {
  const { role_id } = c.req.valid("param");
  return c.json(await service.getRole(c.get("deps"), role_id), 200);
};
