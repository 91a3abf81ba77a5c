import { NotFoundError, UnauthorizedError, ValidationError } from "@/lib/errors.ts";
import type { AppRouteHandler } from "@/lib/router.ts";
import { throttleLogin } from "@/middleware/rate-limit.ts";
import { checkCredentials, openSession, refreshSession } from "@/modules/auth/auth.service.ts";
import type {
  ListSessionsRoute,
  LoginRoute,
  LogoutRoute,
  RefreshRoute,
  RevokeOtherSessionsRoute,
  RevokeSessionRoute,
} from "@/modules/auth/auth.routes.ts";
import {
  deleteSession,
  deleteUserSessions,
  listUserSessions,
} from "@/modules/auth/sessions.repository.ts";

const FORM_TYPE = /^application\/x-www-form-urlencoded\b/i;
const JSON_TYPE = /^application\/(?:[a-z.-]+\+)?json\b/i;

/** The detail of every failed login (the reference app's wording). */
export const INVALID_CREDENTIALS = "Invalid credentials";

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
  const deps = c.var.deps;
  // Counted before the password is verified: 429 once this username+address or address is over.
  const attempt = await throttleLogin(c, credentials.username);
  const check = await checkCredentials(deps, credentials.username, credentials.password, {
    client: c.var.clientIp,
  });
  // `check.outcome` is the one result of this attempt: login metrics and limits hook in here.
  deps.metrics.authLogins.inc({ outcome: check.outcome === "success" ? "success" : "failure" });
  if (check.outcome !== "success") throw new UnauthorizedError(INVALID_CREDENTIALS);
  await attempt.succeeded();
  const tokens = await openSession(deps, check.user.id, {
    userAgent: c.req.header("user-agent"),
    ip: c.var.clientIp,
  });
  return c.json(tokens, 200);
};

export const refresh: AppRouteHandler<RefreshRoute> = async (c) => {
  const { refresh_token } = c.req.valid("json");
  const { metrics } = c.var.deps;
  const result = await refreshSession(c.var.deps, refresh_token);
  metrics.authRefreshes.inc({ outcome: result.outcome === "success" ? "success" : "failure" });
  if (result.outcome === "reused") {
    metrics.authRefreshReuse.inc();
    metrics.authSessionsRevoked.inc({ reason: "reuse_detected" });
  } else if (result.outcome === "deactivated") {
    metrics.authSessionsRevoked.inc({ reason: "deactivated" });
  }
  if (result.outcome !== "success") {
    throw new UnauthorizedError("Invalid or expired refresh token", 'Bearer error="invalid_token"');
  }
  return c.json(result.tokens, 200);
};

export const logout: AppRouteHandler<LogoutRoute> = async (c) => {
  if (await deleteSession(c.var.deps.db, c.var.session.id)) {
    c.var.deps.metrics.authSessionsRevoked.inc({ reason: "logout" });
  }
  return c.body(null, 204);
};

export const listSessions: AppRouteHandler<ListSessionsRoute> = async (c) => {
  const { db, clock } = c.var.deps;
  const current = c.var.session.id;
  const sessions = await listUserSessions(db, c.var.user.id, clock.now());
  return c.json(
    sessions.map((s) => ({
      id: s.id,
      created_at: s.createdAt,
      last_used_at: s.lastUsedAt,
      expires_at: s.expiresAt,
      user_agent: s.userAgent,
      ip: s.ip,
      current: s.id === current,
    })),
    200,
  );
};

export const revokeSession: AppRouteHandler<RevokeSessionRoute> = async (c) => {
  const { session_id } = c.req.valid("param");
  const deleted = await deleteSession(c.var.deps.db, session_id, c.var.user.id);
  if (!deleted) throw new NotFoundError("Session not found");
  c.var.deps.metrics.authSessionsRevoked.inc({ reason: "revoked" });
  return c.body(null, 204);
};

export const revokeOtherSessions: AppRouteHandler<RevokeOtherSessionsRoute> = async (c) => {
  const { db, metrics } = c.var.deps;
  const revoked = await deleteUserSessions(db, c.var.user.id, c.var.session.id);
  if (revoked > 0) metrics.authSessionsRevoked.inc({ reason: "logout_others" }, revoked);
  return c.body(null, 204);
};
