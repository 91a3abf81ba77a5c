import {
  ETAG_HEADER,
  IF_MATCH_PARAMETER,
  IF_NONE_MATCH_PARAMETER,
  jsonContent,
  NOT_MODIFIED_RESPONSE,
  problemResponses,
} from "@/http/openapi.ts";
import { defineRoute } from "@/http/router.ts";
import { requireAuth } from "@/middleware/authenticate.ts";
import { idempotent } from "@/middleware/idempotency.ts";
import { requireRole, requireSelfOrAdmin } from "@/middleware/permissions.ts";
import {
  CreatedUserSchema,
  CreateUserSchema,
  ListUsersQuerySchema,
  MeSchema,
  UpdateUserSchema,
  UserIdParamsSchema,
  UserPageSchema,
  UserSchema,
} from "@/modules/users/users.schemas.ts";

/** The OpenAPI tag of every users operation. */
export const TAG = "Users";
const tags = [TAG];

export const createUser = defineRoute({
  method: "post",
  path: "/users",
  tags,
  summary: "Create a user (admin)",
  description:
    "Without `password`, a random 20-character password is generated and returned once in the " +
    "response. 409 when the username is taken (case-insensitively); 422 for an unknown role.",
  middleware: [
    requireAuth({ scopes: ["users:write"] }),
    requireRole("admin"),
    idempotent(),
  ] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateUserSchema } } },
  },
  responses: {
    201: jsonContent(CreatedUserSchema, "The new user"),
    ...problemResponses(400, 401, 403, 409, 413, 415, 422),
  },
});
export type CreateUserRoute = typeof createUser;

export const listUsers = defineRoute({
  method: "get",
  path: "/users",
  tags,
  summary: "List users (admin)",
  description: "Filters combine with AND; ordered by id unless `sort` says otherwise. Paged " +
    "like GET /items: `next_cursor`/`Link` to any depth, `page × limit` at most 10 000, " +
    "`total` up to 10 000; a `username` substring too costly to answer is 422 " +
    "`query_too_costly`.",
  middleware: [requireAuth({ scopes: ["users:read"] }), requireRole("admin")] as const,
  request: { query: ListUsersQuerySchema },
  responses: {
    200: {
      ...jsonContent(UserPageSchema, "A page of users"),
      headers: {
        Link: {
          description: 'The next page: `<…&cursor=…>; rel="next"` (RFC 8288); absent on the last',
          schema: { type: "string" },
        },
      },
    },
    ...problemResponses(401, 403, 422),
  },
});
export type ListUsersRoute = typeof listUsers;

export const getUser = defineRoute({
  method: "get",
  path: "/users/{user_id}",
  tags,
  summary: "Get a user (admin or self)",
  description: "Admins read any account; a user only their own (403 for any other id).",
  middleware: [requireAuth({ scopes: ["users:read"] }), requireSelfOrAdmin("user_id")] as const,
  parameters: [IF_NONE_MATCH_PARAMETER],
  request: { params: UserIdParamsSchema },
  responses: {
    200: { ...jsonContent(UserSchema, "The user"), headers: ETAG_HEADER },
    304: NOT_MODIFIED_RESPONSE,
    ...problemResponses(401, 403, 404, 422),
  },
});
export type GetUserRoute = typeof getUser;

export const updateUser = defineRoute({
  method: "patch",
  path: "/users/{user_id}",
  tags,
  summary: "Change a user (admin or self)",
  description: "Users change their username and password (`current_password` required; their " +
    "other sessions are revoked). Admins also change `role_id` and `activated` (deactivation " +
    "revokes every session) and may reset a user's password without the current one. An " +
    "admin account is changed only by its owner, and the last active admin cannot be demoted " +
    "or deactivated (409). Each `current_password` check counts as a login attempt of that " +
    "user (429 past the login limit, whether right or wrong), and a non-admin's username " +
    "changes are limited (`RATE_LIMIT_RENAME_MAX`; 429), since a 409 tells whether a name is " +
    "taken. With `If-Match`, only the representation it names is changed (412 otherwise).",
  middleware: [requireAuth({ scopes: ["users:write"] }), requireSelfOrAdmin("user_id")] as const,
  parameters: [IF_MATCH_PARAMETER],
  request: {
    params: UserIdParamsSchema,
    body: { required: true, content: { "application/json": { schema: UpdateUserSchema } } },
  },
  responses: {
    200: { ...jsonContent(UserSchema, "The changed user"), headers: ETAG_HEADER },
    ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428),
  },
});
export type UpdateUserRoute = typeof updateUser;

export const deleteUser = defineRoute({
  method: "delete",
  path: "/users/{user_id}",
  tags,
  summary: "Deactivate a user (admin or self)",
  description: "The account is deactivated, not erased (its items keep their owner), and every " +
    "session is revoked. The last active admin cannot be deactivated (409). With `If-Match`, " +
    "only the representation it names is deactivated (412 otherwise).",
  middleware: [requireAuth({ scopes: ["users:write"] }), requireSelfOrAdmin("user_id")] as const,
  parameters: [IF_MATCH_PARAMETER],
  request: { params: UserIdParamsSchema },
  responses: {
    204: { description: "Deactivated" },
    ...problemResponses(401, 403, 404, 409, 412, 422, 428),
  },
});
export type DeleteUserRoute = typeof deleteUser;

export const me = defineRoute({
  method: "get",
  path: "/auth/me",
  tags: ["Auth"],
  summary: "The caller's account",
  description:
    "The account the access token belongs to, as `GET /users/{user_id}` shows it, with how the " +
    "caller authenticated (`auth_method`) and the scopes the credential holds.",
  middleware: [requireAuth()] as const,
  responses: {
    200: jsonContent(MeSchema, "The authenticated user"),
    ...problemResponses(401),
  },
});
export type MeRoute = typeof me;
