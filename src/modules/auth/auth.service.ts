/**
 * Login, session issue, refresh-token rotation and a user's own sessions. Every outcome is
 * one value, counted in the auth metrics here; the handlers add only the HTTP-level login
 * throttle around {@link login}.
 *
 * @module
 */
import type { Context } from "hono";
import type { Queryable } from "@/db/database.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { AppEnv } from "@/middleware/app-env.ts";
import { NotFoundError, UnauthorizedError } from "@/http/errors.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import type { HashOptions } from "@/runtime/passwords.ts";
import { generateToken, hashToken, TOKEN_PATTERN } from "@/runtime/tokens.ts";
import {
  deleteSession,
  deleteUserSessions,
  evictOldestSessions,
  findRefreshState,
  findSessionIdByRefreshHash,
  insertSession,
  listUserSessions,
  lockSession,
  rotateSessionTokens,
} from "@/modules/auth/sessions.repository.ts";
import type { Session, TokenResponse } from "@/modules/auth/auth.schemas.ts";
import { type AuditContext, recordIn } from "@/modules/audit/audit.service.ts";
import {
  findUserWithHashByUsername,
  isUsername,
  lockUser,
  replacePasswordHash,
  type User,
} from "@/modules/users/users.service.ts";

const log = getAppLogger("auth");

/** Longest user agent kept with a session (the column's size). */
export const USER_AGENT_MAX_LENGTH = 255;

/**
 * Revoke a user's sessions, all of them or all but `keepSessionId`; how many were revoked. What
 * users calls (through the hook it is given) when an account is deactivated or its password
 * changes.
 */
export function revokeUserSessions(
  db: Queryable,
  userId: number,
  keepSessionId?: number,
): Promise<number> {
  return deleteUserSessions(db, userId, keepSessionId);
}
/** Longest client address kept (an IPv6 text form fits). */
const IP_MAX_LENGTH = 45;

/** The detail of every failed login (the reference app's wording). */
export const INVALID_CREDENTIALS = "Invalid credentials";

/** What a login attempt came to; every failure answers the same 401. */
export type LoginOutcome = "success" | "unknown_user" | "wrong_password" | "deactivated";

/** Result of {@link checkCredentials}: `user` is set only on success. */
export type CredentialCheck =
  | { outcome: "success"; user: User }
  | { outcome: Exclude<LoginOutcome, "success">; user?: undefined };

/**
 * The check of the docs' HTTP Basic login: whether `username` and `password` are an active
 * admin's, in the time any login check takes.
 */
export function adminLoginCheck(
  deps: Pick<AppDeps, "passwords">,
): (c: Context<AppEnv>, username: string, password: string) => Promise<boolean> {
  return async function isAdminLogin(c, username, password) {
    const check = await checkCredentials({ db: c.get("db"), ...deps }, username, password, {
      client: c.get("clientIp"),
    });
    return check.outcome === "success" && check.user.role === "admin";
  };
}

/**
 * Verify a username and password. Unknown users are verified against a dummy hash and
 * deactivated users' passwords are still checked, so every failure costs one Argon2id run and
 * the answers cannot tell them apart. A name outside the username rule is an unknown user
 * without asking the database (MySQL's collation would match look-alikes such as `ａｄｍｉｎ` to
 * `admin`). A hash made with weaker parameters is upgraded.
 *
 * @param options.client whose hashing this is (the client address), for the fair hash queue
 */
export async function checkCredentials(
  deps: Pick<AppDeps, "db" | "passwords">,
  username: string,
  password: string,
  options: HashOptions = {},
): Promise<CredentialCheck> {
  const found = isUsername(username)
    ? await findUserWithHashByUsername(deps.db, username)
    : undefined;
  if (!found) {
    await deps.passwords.verifyDummy(password, options);
    return { outcome: "unknown_user" };
  }
  const { passwordHash, ...user } = found;
  const { valid, needsRehash } = await deps.passwords.verify(password, passwordHash, options);
  if (!valid) return { outcome: "wrong_password" };
  if (!user.activated) return { outcome: "deactivated" };
  if (needsRehash) {
    try {
      await replacePasswordHash(
        deps.db,
        user.id,
        passwordHash,
        await deps.passwords.hash(password),
      );
      log.info("Upgraded the password hash of user {user_id}", { user_id: user.id });
    } catch (error) {
      // The login itself succeeded; the upgrade is retried at the next one.
      log.warning("Could not upgrade a password hash: {error}", { user_id: user.id, error });
    }
  }
  return { outcome: "success", user };
}

/** The device a session is opened from. */
export interface Device {
  userAgent: string | undefined;
  ip: string | undefined;
}

/**
 * `POST /auth/token`: check the credentials and open a session; 401 with one wording for
 * every failure. Counts `auth_logins_total` by outcome.
 */
export async function login(
  deps: Pick<AppDeps, "config" | "db" | "clock" | "passwords" | "metrics">,
  credentials: { username: string; password: string },
  device: Device,
): Promise<TokenResponse> {
  const check = await checkCredentials(deps, credentials.username, credentials.password, {
    client: device.ip,
  });
  deps.metrics.authLogins.inc({ outcome: check.outcome === "success" ? "success" : "failure" });
  if (check.outcome !== "success") throw new UnauthorizedError(INVALID_CREDENTIALS);
  return await openSession(deps, check.user.id, device);
}

function tokenResponse(
  deps: Pick<AppDeps, "config">,
  userId: number,
  accessToken: string,
  refreshToken: string,
): TokenResponse {
  const { accessTokenTtlMs, refreshTokenTtlMs } = deps.config.auth;
  return {
    access_token: accessToken,
    token_type: "bearer",
    expires_in: Math.floor(accessTokenTtlMs / 1000),
    refresh_token: refreshToken,
    refresh_expires_in: Math.floor(refreshTokenTtlMs / 1000),
    user_id: userId,
  };
}

/**
 * Open a session for `userId` and return its tokens (the only time they exist in clear).
 * Beyond MAX_SESSIONS_PER_USER the oldest sessions are evicted.
 */
export async function openSession(
  deps: Pick<AppDeps, "config" | "db" | "clock"> & Partial<Pick<AppDeps, "metrics">>,
  userId: number,
  device: Device,
): Promise<TokenResponse> {
  const { accessTokenTtlMs, refreshTokenTtlMs, maxSessionsPerUser } = deps.config.auth;
  const accessToken = generateToken();
  const refreshToken = generateToken();
  const [accessTokenHash, refreshTokenHash] = await Promise.all([
    hashToken(accessToken),
    hashToken(refreshToken),
  ]);
  const now = deps.clock.now();
  const ip = device.ip && device.ip !== "unknown" ? device.ip.slice(0, IP_MAX_LENGTH) : null;
  const evicted = await deps.db.transaction(async (tx) => {
    await lockUser(tx, userId);
    await insertSession(tx, {
      userId,
      accessTokenHash,
      accessExpiresAt: new Date(now.getTime() + accessTokenTtlMs),
      refreshTokenHash,
      refreshExpiresAt: new Date(now.getTime() + refreshTokenTtlMs),
      now,
      userAgent: device.userAgent?.slice(0, USER_AGENT_MAX_LENGTH) || null,
      ip,
    });
    return await evictOldestSessions(tx, userId, maxSessionsPerUser);
  });
  if (evicted > 0) deps.metrics?.authSessionsRevoked.inc({ reason: "evicted" }, evicted);
  return tokenResponse(deps, userId, accessToken, refreshToken);
}

/** What a refresh attempt came to; everything but success answers 401. */
export type RefreshOutcome =
  | "success"
  | "unknown"
  | "reused"
  | "expired"
  | "deactivated";

/** Result of {@link refreshSession}. */
export type RefreshResult =
  | { outcome: "success"; tokens: TokenResponse }
  | { outcome: Exclude<RefreshOutcome, "success">; tokens?: undefined };

/**
 * Rotate a session's tokens. Presenting a refresh token that was already rotated, including
 * losing a race against a concurrent refresh with the same token, revokes the session
 * (RFC 9700 refresh-token reuse detection). Inside one transaction the session's row is locked
 * first, then read, then swapped with a conditional UPDATE, so exactly one of several
 * concurrent refreshes succeeds and none deadlocks.
 */
export async function refreshSession(
  deps:
    & Pick<AppDeps, "config" | "db" | "clock">
    & Partial<Pick<AppDeps, "metrics">>
    & { audit?: AuditContext },
  refreshToken: string,
): Promise<RefreshResult> {
  const result = await rotate(deps, refreshToken);
  const metrics = deps.metrics;
  if (metrics) {
    metrics.authRefreshes.inc({ outcome: result.outcome === "success" ? "success" : "failure" });
    if (result.outcome === "reused") {
      metrics.authRefreshReuse.inc();
      metrics.authSessionsRevoked.inc({ reason: "reuse_detected" });
    } else if (result.outcome === "deactivated") {
      metrics.authSessionsRevoked.inc({ reason: "deactivated" });
    }
  }
  return result;
}

/** `POST /auth/refresh`: new tokens for a refresh token; 401 for every failure. */
export async function refresh(
  deps: Pick<AppDeps, "config" | "db" | "clock" | "metrics"> & { audit?: AuditContext },
  refreshToken: string,
): Promise<TokenResponse> {
  const result = await refreshSession(deps, refreshToken);
  if (result.outcome !== "success") {
    throw new UnauthorizedError("Invalid or expired refresh token", 'Bearer error="invalid_token"');
  }
  return result.tokens;
}

async function rotate(
  deps: Pick<AppDeps, "config" | "db" | "clock"> & { audit?: AuditContext },
  refreshToken: string,
): Promise<RefreshResult> {
  if (!TOKEN_PATTERN.test(refreshToken)) return { outcome: "unknown" };
  const { accessTokenTtlMs, refreshTokenTtlMs } = deps.config.auth;
  const accessToken = generateToken();
  const nextRefreshToken = generateToken();
  const [presentedRefreshHash, accessTokenHash, refreshTokenHash] = await Promise.all([
    hashToken(refreshToken),
    hashToken(accessToken),
    hashToken(nextRefreshToken),
  ]);
  const sessionId = await findSessionIdByRefreshHash(deps.db, presentedRefreshHash);
  if (sessionId === undefined) return { outcome: "unknown" };
  const now = deps.clock.now();
  const result = await deps.db.transaction(async (tx) => {
    if (!(await lockSession(tx, sessionId))) return { outcome: "unknown" as const };
    const state = await findRefreshState(tx, sessionId);
    if (!state) return { outcome: "unknown" as const };
    const revoke = async (outcome: Exclude<RefreshOutcome, "success" | "unknown">) => {
      await deleteSession(tx, sessionId);
      const audit = deps.audit && {
        log: deps.audit.log,
        // Whoever holds the refresh token acts for the session's owner.
        actor: {
          ...deps.audit.actor,
          userId: state.userId,
          method: "refresh_token" as const,
          credential: `session:${sessionId}`,
        },
      };
      await recordIn(tx, audit, {
        action: "session.revoked",
        targetType: "session",
        targetId: sessionId,
        changes: { reason: { before: null, after: `refresh_${outcome}` } },
      });
      return { outcome, sessionId, userId: state.userId };
    };
    if (state.refreshTokenHash !== presentedRefreshHash) {
      // Older than the previous token: nothing to match, nothing to revoke.
      if (state.previousRefreshTokenHash !== presentedRefreshHash) {
        return { outcome: "unknown" as const };
      }
      return revoke("reused");
    }
    if (!state.userActivated) return revoke("deactivated");
    if (state.refreshExpiresAt.getTime() <= now.getTime()) return revoke("expired");
    const swapped = await rotateSessionTokens(tx, {
      sessionId,
      presentedRefreshHash,
      accessTokenHash,
      accessExpiresAt: new Date(now.getTime() + accessTokenTtlMs),
      refreshTokenHash,
      refreshExpiresAt: new Date(now.getTime() + refreshTokenTtlMs),
      now,
    });
    if (!swapped) return { outcome: "unknown" as const };
    return { outcome: "success" as const, sessionId, userId: state.userId };
  });
  if (result.outcome === "reused") {
    log.warning("Refresh token reuse detected: revoked session {session_id} of user {user_id}", {
      session_id: result.sessionId,
      user_id: result.userId,
    });
  }
  if (result.outcome !== "success") return { outcome: result.outcome };
  return {
    outcome: "success",
    tokens: tokenResponse(deps, result.userId, accessToken, nextRefreshToken),
  };
}

/** What ending sessions needs: the database, the metrics, and where it is recorded. */
type RevokeDeps = Pick<AppDeps, "db" | "metrics"> & { audit?: AuditContext };

/** `POST /auth/logout`: end the session of this request. */
export async function logout(deps: RevokeDeps, sessionId: number) {
  const ended = await deps.db.transaction(async (tx) => {
    if (!(await deleteSession(tx, sessionId))) return false;
    await recordIn(tx, deps.audit, {
      action: "session.revoked",
      targetType: "session",
      targetId: sessionId,
      changes: { reason: { before: null, after: "logout" } },
    });
    return true;
  });
  if (ended) deps.metrics.authSessionsRevoked.inc({ reason: "logout" });
}

/** `GET /auth/sessions`: the user's sessions, newest first, marking the current one. */
export async function listSessions(
  deps: Pick<AppDeps, "db" | "clock">,
  userId: number,
  currentSessionId: number,
): Promise<Session[]> {
  const sessions = await listUserSessions(deps.db, userId, deps.clock.now());
  return sessions.map((session) => ({ ...session, current: session.id === currentSessionId }));
}

/** `DELETE /auth/sessions/{id}`: end one of the user's sessions; 404 when it is not theirs. */
export async function revokeSession(
  deps: RevokeDeps,
  userId: number,
  sessionId: number,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    if (!(await deleteSession(tx, sessionId, userId))) {
      throw new NotFoundError("Session not found");
    }
    await recordIn(tx, deps.audit, {
      action: "session.revoked",
      targetType: "session",
      targetId: sessionId,
      changes: { reason: { before: null, after: "revoked" } },
    });
  });
  deps.metrics.authSessionsRevoked.inc({ reason: "revoked" });
}

/** `DELETE /auth/sessions`: end every session of the user but this one. */
export async function revokeOtherSessions(
  deps: RevokeDeps,
  userId: number,
  currentSessionId: number,
): Promise<void> {
  const revoked = await deps.db.transaction(async (tx) => {
    const revoked = await deleteUserSessions(tx, userId, currentSessionId);
    if (revoked > 0) {
      await recordIn(tx, deps.audit, {
        action: "session.revoked",
        targetType: "user",
        targetId: userId,
        changes: {
          sessions: { before: revoked, after: 0 },
          reason: { before: null, after: "logout_others" },
        },
      });
    }
    return revoked;
  });
  if (revoked > 0) deps.metrics.authSessionsRevoked.inc({ reason: "logout_others" }, revoked);
}
