import { z } from "@hono/zod-openapi";
import { idParam } from "@/http/ids.ts";

export const RoleSchema = z.object({
  id: z.number().int().openapi({ example: 2 }),
  name: z.string().openapi({ example: "user" }),
}).openapi("Role");

export const RoleIdParamsSchema = z.object({
  role_id: idParam("role_id", { in: "path" }),
});
