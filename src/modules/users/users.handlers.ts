import type { Context } from "hono";
import type { AppEnv } from "@/lib/app-env.ts";
import type { AppRouteHandler } from "@/lib/router.ts";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "@/lib/errors.ts";
import { effectiveScopes } from "@/middleware/authenticate.ts";
import { throttlePasswordCheck, throttleRename } from "@/middleware/rate-limit.ts";
import { cursorCodec } from "@/lib/cursor.ts";
import { listScope, nextLink, resolveWindow, sortSpec } from "@/lib/pagination.ts";
import {
  findUserById,
  listUsers as findUsers,
  USER_SORT_COLUMNS,
  USER_TIMESTAMP_FIELDS,
} from "@/modules/users/users.repository.ts";
import type {
  CreateUserRoute,
  DeleteUserRoute,
  GetUserRoute,
  ListUsersRoute,
  MeRoute,
  UpdateUserRoute,
} from "@/modules/users/users.routes.ts";
import * as service from "@/modules/users/users.service.ts";

export const createUser: AppRouteHandler<CreateUserRoute> = async (c) => {
  const body = c.req.valid("json");
  const { user, generatedPassword } = await service.createUser(c.var.deps, {
    username: body.username,
    roleId: body.role_id,
    password: body.password,
  });
  c.header("Location", `/users/${user.id}`);
  return c.json(
    generatedPassword === undefined ? user : { ...user, password: generatedPassword },
    201,
  );
};

export const listUsers: AppRouteHandler<ListUsersRoute> = async (c) => {
  const query = c.req.valid("query");
  const { db, config } = c.var.deps;
  const sort = sortSpec(query.sort, USER_SORT_COLUMNS, USER_TIMESTAMP_FIELDS, "u.id");
  const codec = cursorCodec(config.auth.secretKey);
  const scope = listScope("users", sort, {
    username: query.username,
    activated: query.activated,
    role_id: query.role_id,
  });
  const window = await resolveWindow({
    page: query.page,
    limit: query.limit,
    pageGiven: c.req.query("page") !== undefined,
    cursor: query.cursor,
    codec,
    scope,
  });
  const page = await findUsers(db, {
    username: query.username,
    activated: query.activated,
    roleId: query.role_id,
    sort,
    window,
    limit: query.limit,
    serverTimeoutMs: config.database.listQueryTimeoutMs,
  });
  const next = page.next && await codec.encode(scope, page.next);
  if (next) c.header("Link", nextLink(c.req.url, next));
  return c.json({
    page: window.after ? null : query.page,
    limit: query.limit,
    total: page.total,
    total_relation: page.relation,
    next_cursor: next ?? null,
    users: page.rows,
  }, 200);
};

export const getUser: AppRouteHandler<GetUserRoute> = async (c) => {
  const { user_id } = c.req.valid("param");
  const user = await findUserById(c.var.deps.db, user_id);
  if (!user) throw new NotFoundError("User not found");
  return c.json(user, 200);
};

export const updateUser: AppRouteHandler<UpdateUserRoute> = async (c) => {
  const { user_id } = c.req.valid("param");
  const actor = c.var.user;
  // The limiter helpers take the plain app context; this one only adds typed auth variables.
  const plain = c as unknown as Context<AppEnv>;
  const changes = c.req.valid("json");
  const passwordChange = changes.password !== undefined || changes.current_password !== undefined;
  if (passwordChange && c.var.principal.method === "api_key") {
    throw new ForbiddenError("An API key cannot change passwords; use a session token");
  }
  const user = await service.changeUser(
    c.var.deps,
    actor,
    c.var.session?.id,
    user_id,
    changes,
    {
      passwordCheck: () => throttlePasswordCheck(plain, actor),
      rename: () => throttleRename(plain, actor.id),
      client: c.var.clientIp,
    },
  );
  return c.json(user, 200);
};

export const deleteUser: AppRouteHandler<DeleteUserRoute> = async (c) => {
  const { user_id } = c.req.valid("param");
  await service.deactivateUser(c.var.deps, c.var.user, user_id);
  return c.body(null, 204);
};

export const me: AppRouteHandler<MeRoute> = async (c) => {
  const caller = c.var.user;
  const principal = c.var.principal;
  const user = await findUserById(c.var.deps.db, caller.id);
  // Deleted between the token check and now.
  if (!user) throw new UnauthorizedError("Invalid or expired access token");
  // The role of this request (a provider token's role may differ from the stored one).
  return c.json({
    ...user,
    role: caller.role,
    role_id: caller.roleId,
    auth_method: principal.method,
    scopes: [...effectiveScopes(principal)],
  }, 200);
};
