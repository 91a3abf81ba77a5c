import { z } from "@hono/zod-openapi";
import { jsonContent, problemResponses } from "@/http/openapi.ts";
import { defineRoute } from "@/http/router.ts";
import { RoleIdParamsSchema, RoleSchema } from "@/modules/roles/roles.schemas.ts";

/** The OpenAPI tag of every roles operation. */
export const TAG = "Roles";
const tags = [TAG];

export const listRoles = defineRoute({
  method: "get",
  path: "/roles",
  security: [], // public
  tags,
  summary: "List the roles",
  description: "Public: the role ids a `role_id` may take.",
  responses: { 200: jsonContent(z.array(RoleSchema), "Every role") },
});
export type ListRolesRoute = typeof listRoles;

export const getRole = defineRoute({
  method: "get",
  path: "/roles/{role_id}",
  security: [], // public
  tags,
  summary: "Get one role",
  description: "404 when no role has this id.",
  request: { params: RoleIdParamsSchema },
  responses: {
    200: jsonContent(RoleSchema, "The role"),
    ...problemResponses(404, 422),
  },
});
export type GetRoleRoute = typeof getRole;
