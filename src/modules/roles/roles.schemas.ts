import { z } from "@hono/zod-openapi";

export const RoleSchema = z.object({
  id: z.number().int().openapi({ example: 2 }),
  name: z.string().openapi({ example: "user" }),
}).openapi("Role");

export const RoleIdParamsSchema = z.object({
  role_id: z.coerce.number().int().positive().max(4_294_967_295).openapi({
    param: { name: "role_id", in: "path" },
    example: 2,
  }),
});
