import type { Context } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";
import { ValidationError } from "@/http/errors.ts";
import type { AppRouteHandler } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import type {
  ListSessionsRoute,
  LoginRoute,
  LogoutRoute,
  RefreshRoute,
  RevokeOtherSessionsRoute,
  RevokeSessionRoute,
} from "@/modules/auth/auth.routes.ts";
import * as service from "@/modules/auth/auth.service.ts";
import { auditActorOf, type AuditLog } from "@/modules/audit/audit.service.ts";

const FORM_TYPE = /^application\/x-www-form-urlencoded\b/i;
const JSON_TYPE = /^application\/(?:[a-z.-]+\+)?json\b/i;

/** The handlers of `/auth/*`, created with the app's dependencies and throttles. */
export function createAuthHandlers(deps: ModuleDeps & { readonly auditLog: AuditLog }) {
  const { throttles } = deps;
  /** The request's database, and its audit context for the changes it makes. */
  const withRequest = <E extends AppEnv>(c: Context<E>) => ({
    ...deps,
    db: c.get("db"),
    audit: { log: deps.auditLog, actor: auditActorOf(c) },
  });

  const login: AppRouteHandler<LoginRoute> = async (c) => {
    const type = c.req.header("content-type") ?? "";
    const grant = FORM_TYPE.test(type)
      ? c.req.valid("form")
      : JSON_TYPE.test(type)
      ? c.req.valid("json")
      : undefined;
    if (!grant) {
      throw new ValidationError([{
        path: "body",
        message: "Expected JSON {username, password} or an OAuth 2 password or refresh grant",
      }]);
    }
    if (grant.grant_type === "refresh_token") {
      // RFC 6749 §6 on the token URL: the same rotation and reuse detection as /auth/refresh.
      return c.json(
        await service.refresh(withRequest(c), grant.refresh_token),
        200,
      );
    }
    const credentials = { username: grant.username, password: grant.password };
    // Counted before the password is verified: 429 once this username+address or address is over.
    const attempt = await throttles.login(c, credentials.username);
    const tokens = await service.login(withRequest(c), credentials, {
      userAgent: c.req.header("user-agent"),
      ip: c.get("clientIp"),
    });
    await attempt.succeeded();
    return c.json(tokens, 200);
  };

  const refresh: AppRouteHandler<RefreshRoute> = async (c) => {
    const { refresh_token } = c.req.valid("json");
    return c.json(await service.refresh(withRequest(c), refresh_token), 200);
  };

  const logout: AppRouteHandler<LogoutRoute> = async (c) => {
    await service.logout(withRequest(c), c.get("session").id);
    return c.body(null, 204);
  };

  const listSessions: AppRouteHandler<ListSessionsRoute> = async (c) => {
    return c.json(
      await service.listSessions(
        withRequest(c),
        c.get("user").id,
        c.get("session").id,
      ),
      200,
    );
  };

  const revokeSession: AppRouteHandler<RevokeSessionRoute> = async (c) => {
    const { session_id } = c.req.valid("param");
    await service.revokeSession(withRequest(c), c.get("user").id, session_id);
    return c.body(null, 204);
  };

  const revokeOtherSessions: AppRouteHandler<RevokeOtherSessionsRoute> = async (c) => {
    await service.revokeOtherSessions(
      withRequest(c),
      c.get("user").id,
      c.get("session").id,
    );
    return c.body(null, 204);
  };

  return { login, refresh, logout, listSessions, revokeSession, revokeOtherSessions };
}
