import { NotFoundError } from "@/lib/errors.ts";
import type { AppRouteHandler } from "@/lib/router.ts";
import { findRoleById, listRoles as listAllRoles } from "@/modules/roles/roles.repository.ts";
import type { GetRoleRoute, ListRolesRoute } from "@/modules/roles/roles.routes.ts";

export const listRoles: AppRouteHandler<ListRolesRoute> = async (c) => {
  return c.json(await listAllRoles(c.get("deps").db), 200);
};

export const getRole: AppRouteHandler<GetRoleRoute> = async (c) => {
  const { role_id } = c.req.valid("param");
  const role = await findRoleById(c.get("deps").db, role_id);
  if (!role) throw new NotFoundError("Role not found");
  return c.json(role, 200);
};
