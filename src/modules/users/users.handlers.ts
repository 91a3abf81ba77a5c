import type { AppRouteHandler } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { ForbiddenError } from "@/http/errors.ts";
import { ifMatchPrecondition, jsonWithEtag } from "@/http/etag.ts";
import { nextLink } from "@/http/pagination.ts";
import { effectiveScopes } from "@/middleware/authenticate.ts";
import type {
  CreateUserRoute,
  DeleteUserRoute,
  GetUserRoute,
  ListUsersRoute,
  MeRoute,
  UpdateUserRoute,
} from "@/modules/users/users.routes.ts";
import * as service from "@/modules/users/users.service.ts";
import { auditActorOf, type AuditLog } from "@/modules/audit/audit.service.ts";

/** What the users handlers are created with. */
export type UsersHandlersDeps =
  & Pick<ModuleDeps, "config" | "throttles" | "scopes">
  & service.UsersDeps
  & { readonly auditLog: AuditLog };

/** The handlers of `/users` and `/auth/me`. */
export function createUsersHandlers(deps: UsersHandlersDeps) {
  const { config, throttles, scopes, auditLog } = deps;
  const ifMatch = { required: config.http.requireIfMatch };
  const users: service.UsersDeps = deps;

  const createUser: AppRouteHandler<CreateUserRoute> = async (c) => {
    const body = c.req.valid("json");
    const { user, generatedPassword } = await service.createUser({
      ...users,
      db: c.get("db"),
      audit: { log: auditLog, actor: auditActorOf(c) },
    }, {
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

  const listUsers: AppRouteHandler<ListUsersRoute> = async (c) => {
    const page = await service.listUsers({ db: c.get("db"), config }, {
      ...c.req.valid("query"),
      pageGiven: c.req.query("page") !== undefined,
    });
    if (page.next_cursor) c.header("Link", nextLink(c.req.url, page.next_cursor));
    return c.json(page, 200);
  };

  const getUser: AppRouteHandler<GetUserRoute> = async (c) => {
    const { user_id } = c.req.valid("param");
    return jsonWithEtag(c, await service.getUser({ db: c.get("db") }, user_id), 200);
  };

  const updateUser: AppRouteHandler<UpdateUserRoute> = async (c) => {
    const { user_id } = c.req.valid("param");
    const actor = c.get("user");
    const changes = c.req.valid("json");
    const passwordChange = changes.password !== undefined || changes.current_password !== undefined;
    if (passwordChange && c.get("principal").method === "api_key") {
      throw new ForbiddenError("An API key cannot change passwords; use a session token");
    }
    const user = await service.changeUser(
      { ...users, db: c.get("db"), audit: { log: auditLog, actor: auditActorOf(c) } },
      actor,
      c.get("session")?.id,
      user_id,
      changes,
      {
        passwordCheck: () => throttles.passwordCheck(c, actor),
        rename: () => throttles.rename(c, actor.id),
        client: c.get("clientIp"),
      },
      ifMatchPrecondition(c.req.header("if-match"), ifMatch),
    );
    return jsonWithEtag(c, user, 200);
  };

  const deleteUser: AppRouteHandler<DeleteUserRoute> = async (c) => {
    const { user_id } = c.req.valid("param");
    const precondition = ifMatchPrecondition(c.req.header("if-match"), ifMatch);
    await service.deactivateUser(
      { ...users, db: c.get("db"), audit: { log: auditLog, actor: auditActorOf(c) } },
      c.get("user"),
      user_id,
      precondition,
    );
    return c.body(null, 204);
  };

  const me: AppRouteHandler<MeRoute> = async (c) => {
    const caller = c.get("user");
    const user = await service.getOwnAccount({ db: c.get("db") }, caller);
    // The role of this request (a provider token's role may differ from the stored one).
    return c.json({
      ...user,
      role: caller.role,
      role_id: caller.roleId,
      auth_method: c.get("principal").method,
      scopes: [...effectiveScopes(c.get("principal"), scopes.ofRole)],
    }, 200);
  };

  return { createUser, listUsers, getUser, updateUser, deleteUser, me };
}
