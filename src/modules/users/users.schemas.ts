import { z } from "@hono/zod-openapi";
import { idParam, SERIAL_MAX } from "@/http/ids.ts";
import { timestamp } from "@/http/openapi.ts";
import {
  isWellFormedPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  PASSWORD_NOT_WELL_FORMED,
} from "@/runtime/passwords.ts";
import { PageQuerySchema, pageSchema, sortParam } from "@/http/pagination.ts";
import { USER_SORTS } from "@/modules/users/users.sorts.ts";
import { USERNAME_PATTERN } from "@/modules/users/usernames.ts";

export { USERNAME_PATTERN };

export const UsernameSchema = z.string().regex(USERNAME_PATTERN, {
  message: "Expected 3 to 64 letters, digits, '_', '.' or '-'",
}).openapi({ example: "alice", minLength: 3, maxLength: 64 });

/** A new password: 8 to 128 characters, no composition rules; checked before any hashing. */
export const NewPasswordSchema = z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH)
  .refine(isWellFormedPassword, { message: PASSWORD_NOT_WELL_FORMED })
  .openapi({ example: "correct horse battery staple" });

export const RoleIdSchema = z.number().int().positive().max(SERIAL_MAX).openapi({
  example: 2,
  description: "1 = admin, 2 = user (see GET /roles)",
});

export const UserIdParamsSchema = z.object({
  user_id: idParam("user_id", { in: "path" }),
});

export const UserSchema = z.object({
  id: z.number().int().openapi({ example: 2 }),
  username: z.string().openapi({ example: "alice" }),
  role_id: z.number().int().openapi({ example: 2 }),
  role: z.enum(["admin", "user"]).openapi({ example: "user" }),
  activated: z.boolean().openapi({ example: true }),
  created_at: timestamp(),
  updated_at: timestamp(),
}).openapi("User");
/** A user (never its password hash), in the one shape the repository returns and the API answers. */
export type User = z.infer<typeof UserSchema>;

export const CreatedUserSchema = UserSchema.extend({
  password: z.string().optional().openapi({
    description: "The generated password, present only when none was given; shown once",
    example: "Xk3pQ9wEr7TzVb2mNa5s",
  }),
}).openapi("CreatedUser");

export const CreateUserSchema = z.strictObject({
  username: UsernameSchema,
  role_id: RoleIdSchema,
  password: NewPasswordSchema.optional().openapi({
    description: "Omit it to have a random 20-character password generated and returned once",
  }),
}).openapi("CreateUser");

export const UpdateUserSchema = z.strictObject({
  username: UsernameSchema.optional(),
  password: NewPasswordSchema.optional(),
  current_password: z.string().min(1).max(PASSWORD_MAX_LENGTH).optional().openapi({
    description: "Required with `password` when users change their own password",
  }),
  role_id: RoleIdSchema.optional().openapi({ description: "Admins only" }),
  activated: z.boolean().optional().openapi({ description: "Admins only" }),
}).openapi("UpdateUser");

const booleanQuery = z.enum(["true", "false"]).transform((value) => value === "true");

export const ListUsersQuerySchema = PageQuerySchema.extend({
  username: z.string().min(1).max(64).optional().openapi({
    param: { name: "username", in: "query" },
    description: "Case-insensitive substring; % and _ match themselves",
  }),
  activated: booleanQuery.optional().openapi({
    param: { name: "activated", in: "query" },
  }),
  role_id: idParam("role_id", { in: "query", description: "Only users with this role" })
    .optional(),
  sort: sortParam(USER_SORTS),
});

export const UserPageSchema = pageSchema("users", UserSchema, "UserPage");

/** `GET /auth/me`: the account, and how this request authenticated. */
export const MeSchema = UserSchema.extend({
  auth_method: z.enum(["session", "oidc", "api_key"]).openapi({
    example: "session",
    description:
      "How the caller authenticated: a session token from POST /auth/token, an identity " +
      "provider's access token (OpenID Connect) or an API key",
  }),
  scopes: z.array(z.string()).openapi({
    example: ["items:read", "items:write", "users:read", "users:write"],
    description: "What this credential may do: its own scopes, within the role's",
  }),
}).openapi("Me");
