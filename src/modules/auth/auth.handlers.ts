import { ValidationError } from "@/http/errors.ts";
import type { AppRouteHandler } from "@/http/router.ts";
import { throttleLogin } from "@/middleware/rate-limit.ts";
import type {
  ListSessionsRoute,
  LoginRoute,
  LogoutRoute,
  RefreshRoute,
  RevokeOtherSessionsRoute,
  RevokeSessionRoute,
} from "@/modules/auth/auth.routes.ts";
import * as service from "@/modules/auth/auth.service.ts";

const FORM_TYPE = /^application\/x-www-form-urlencoded\b/i;
const JSON_TYPE = /^application\/(?:[a-z.-]+\+)?json\b/i;

export const login: AppRouteHandler<LoginRoute> = async (c) => {
  const type = c.req.header("content-type") ?? "";
  const credentials = FORM_TYPE.test(type)
    ? c.req.valid("form")
    : JSON_TYPE.test(type)
    ? c.req.valid("json")
    : undefined;
  if (!credentials) {
    throw new ValidationError([{
      path: "body",
      message: "Expected JSON {username, password} or a password-grant form",
    }]);
  }
  // Counted before the password is verified: 429 once this username+address or address is over.
  const attempt = await throttleLogin(c, credentials.username);
  const tokens = await service.login(c.get("deps"), credentials, {
    userAgent: c.req.header("user-agent"),
    ip: c.get("clientIp"),
  });
  await attempt.succeeded();
  return c.json(tokens, 200);
};

export const refresh: AppRouteHandler<RefreshRoute> = async (c) => {
  const { refresh_token } = c.req.valid("json");
  return c.json(await service.refresh(c.get("deps"), refresh_token), 200);
};

export const logout: AppRouteHandler<LogoutRoute> = async (c) => {
  await service.logout(c.get("deps"), c.get("session").id);
  return c.body(null, 204);
};

export const listSessions: AppRouteHandler<ListSessionsRoute> = async (c) => {
  return c.json(
    await service.listSessions(c.get("deps"), c.get("user").id, c.get("session").id),
    200,
  );
};

export const revokeSession: AppRouteHandler<RevokeSessionRoute> = async (c) => {
  const { session_id } = c.req.valid("param");
  await service.revokeSession(c.get("deps"), c.get("user").id, session_id);
  return c.body(null, 204);
};

export const revokeOtherSessions: AppRouteHandler<RevokeOtherSessionsRoute> = async (c) => {
  await service.revokeOtherSessions(c.get("deps"), c.get("user").id, c.get("session").id);
  return c.body(null, 204);
};
