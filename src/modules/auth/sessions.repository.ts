/**
 * All SQL about login sessions (one row per device). Tokens appear here only as SHA-256 hex
 * digests; the clear tokens never reach the database.
 *
 * @module
 */
import { type Queryable, toDate, toIsoTimestamp } from "@/db/database.ts";
import { OWNER_COLUMNS, type OwnerRow, toOwner } from "@/db/credential-owner.ts";
import type { AuthUser } from "@/http/principal.ts";
import type { Session } from "@/modules/auth/auth.schemas.ts";

/** A new session's token digests, lifetimes and device details. */
export interface NewSession {
  userId: number;
  accessTokenHash: string;
  accessExpiresAt: Date;
  refreshTokenHash: string;
  refreshExpiresAt: Date;
  now: Date;
  userAgent: string | null;
  ip: string | null;
}

/** Insert a session; returns its id. */
export async function insertSession(db: Queryable, session: NewSession): Promise<number> {
  const { insertId } = await db.execute(
    "INSERT INTO sessions (user_id, access_token_hash, access_expires_at, refresh_token_hash, refresh_expires_at, created_at, last_used_at, user_agent, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [
      session.userId,
      session.accessTokenHash,
      session.accessExpiresAt,
      session.refreshTokenHash,
      session.refreshExpiresAt,
      session.now,
      session.now,
      session.userAgent,
      session.ip,
    ],
  );
  return insertId;
}

/** Delete a user's sessions beyond the `keep` newest; returns how many went. */
export async function evictOldestSessions(
  db: Queryable,
  userId: number,
  keep: number,
): Promise<number> {
  const rows = await db.query<{ id: number }>(
    "SELECT id FROM sessions WHERE user_id = ? ORDER BY created_at DESC, id DESC",
    [userId],
  );
  const stale = rows.slice(keep).map((row) => Number(row.id));
  if (stale.length === 0) return 0;
  const { affectedRows } = await db.execute(
    `DELETE FROM sessions WHERE user_id = ? AND id IN (${stale.map(() => "?").join(", ")})`,
    [userId, ...stale],
  );
  return affectedRows;
}

/** The session an access token belongs to, with its user, as the bearer check needs it. */
export interface SessionWithUser {
  sessionId: number;
  accessExpiresAt: Date;
  lastUsedAt: Date;
  user: AuthUser;
}

interface SessionWithUserRow extends OwnerRow {
  session_id: number;
  access_expires_at: unknown;
  last_used_at: unknown;
}

/** The lookup statement, built once rather than per lookup. */
const SELECT_SESSION_BY_ACCESS_HASH =
  `SELECT s.id AS session_id, s.access_expires_at, s.last_used_at, ${OWNER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id JOIN roles r ON r.id = u.role_id WHERE s.access_token_hash = ?`;

/** One indexed lookup: the session holding this access-token digest, joined with its user. */
export async function findSessionByAccessHash(
  db: Queryable,
  accessTokenHash: string,
): Promise<SessionWithUser | undefined> {
  const rows = await db.query<SessionWithUserRow>(
    SELECT_SESSION_BY_ACCESS_HASH,
    [accessTokenHash],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    sessionId: Number(row.session_id),
    accessExpiresAt: toDate(row.access_expires_at),
    lastUsedAt: toDate(row.last_used_at),
    user: toOwner(row),
  };
}

/**
 * Record use of a session, unless another request (or instance) did so after `staleBefore`;
 * the condition keeps this to about one write per session per interval.
 */
export async function touchSession(
  db: Queryable,
  sessionId: number,
  now: Date,
  staleBefore: Date,
): Promise<boolean> {
  const { affectedRows } = await db.execute(
    "UPDATE sessions SET last_used_at = ? WHERE id = ? AND last_used_at <= ?",
    [now, sessionId, staleBefore],
  );
  return affectedRows === 1;
}

/**
 * The id of the session whose current or previous refresh-token digest is `hash` (a plain
 * read, outside the refresh transaction; {@link lockSession} then settles any race).
 */
export async function findSessionIdByRefreshHash(
  db: Queryable,
  refreshTokenHash: string,
): Promise<number | undefined> {
  const current = await db.query<{ id: number }>(
    "SELECT id FROM sessions WHERE refresh_token_hash = ?",
    [refreshTokenHash],
  );
  const row = current[0] ?? (await db.query<{ id: number }>(
    "SELECT id FROM sessions WHERE previous_refresh_token_hash = ?",
    [refreshTokenHash],
  ))[0];
  return row && Number(row.id);
}

/**
 * Take the session's row lock (MySQL) with a no-op write by primary key, so concurrent
 * refreshes of one session queue on one lock in one order and cannot deadlock. Returns whether
 * the session exists. Read the row only after this, so the read sees the winner's commit.
 */
export async function lockSession(db: Queryable, sessionId: number): Promise<boolean> {
  const { affectedRows } = await db.execute(
    "UPDATE sessions SET last_used_at = last_used_at WHERE id = ?",
    [sessionId],
  );
  return affectedRows === 1;
}

/** What a refresh needs to know about a session. */
export interface RefreshState {
  sessionId: number;
  userId: number;
  refreshTokenHash: string;
  previousRefreshTokenHash: string | null;
  refreshExpiresAt: Date;
  userActivated: boolean;
}

/** The refresh state of a session, by id. */
export async function findRefreshState(
  db: Queryable,
  sessionId: number,
): Promise<RefreshState | undefined> {
  const rows = await db.query<{
    user_id: number;
    refresh_token_hash: string;
    previous_refresh_token_hash: string | null;
    refresh_expires_at: unknown;
    activated: number;
  }>(
    "SELECT s.user_id, s.refresh_token_hash, s.previous_refresh_token_hash, s.refresh_expires_at, u.activated FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?",
    [sessionId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    sessionId,
    userId: Number(row.user_id),
    refreshTokenHash: row.refresh_token_hash,
    previousRefreshTokenHash: row.previous_refresh_token_hash,
    refreshExpiresAt: toDate(row.refresh_expires_at),
    userActivated: Boolean(row.activated),
  };
}

/** New token digests for {@link rotateSessionTokens}. */
export interface Rotation {
  sessionId: number;
  /** The digest the caller presented; the swap happens only while it is still current. */
  presentedRefreshHash: string;
  accessTokenHash: string;
  accessExpiresAt: Date;
  refreshTokenHash: string;
  refreshExpiresAt: Date;
  now: Date;
}

/**
 * Swap a session's tokens, keeping the presented refresh digest as the previous one. A
 * conditional UPDATE: `false` when the presented digest is no longer the current one.
 */
export async function rotateSessionTokens(db: Queryable, rotation: Rotation): Promise<boolean> {
  const { affectedRows } = await db.execute(
    "UPDATE sessions SET access_token_hash = ?, access_expires_at = ?, refresh_token_hash = ?, previous_refresh_token_hash = ?, refresh_expires_at = ?, last_used_at = ? WHERE id = ? AND refresh_token_hash = ?",
    [
      rotation.accessTokenHash,
      rotation.accessExpiresAt,
      rotation.refreshTokenHash,
      rotation.presentedRefreshHash,
      rotation.refreshExpiresAt,
      rotation.now,
      rotation.sessionId,
      rotation.presentedRefreshHash,
    ],
  );
  return affectedRows === 1;
}

/** A session as its owner sees it in a listing (its API shape): never any token material. */
export type ListedSession = Omit<Session, "current">;

interface SessionListRow {
  id: number;
  created_at: unknown;
  last_used_at: unknown;
  refresh_expires_at: unknown;
  user_agent: string | null;
  ip: string | null;
}

/** A user's sessions that can still be refreshed, newest first. */
export async function listUserSessions(
  db: Queryable,
  userId: number,
  now: Date,
): Promise<ListedSession[]> {
  const rows = await db.query<SessionListRow>(
    "SELECT id, created_at, last_used_at, refresh_expires_at, user_agent, ip FROM sessions WHERE user_id = ? AND refresh_expires_at > ? ORDER BY created_at DESC, id DESC",
    [userId, now],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    created_at: toIsoTimestamp(row.created_at),
    last_used_at: toIsoTimestamp(row.last_used_at),
    expires_at: toIsoTimestamp(row.refresh_expires_at),
    user_agent: row.user_agent,
    ip: row.ip,
  }));
}

/** Delete one session; `userId` restricts it to that owner. Returns whether a row went. */
export async function deleteSession(
  db: Queryable,
  sessionId: number,
  userId?: number,
): Promise<boolean> {
  const { affectedRows } = userId === undefined
    ? await db.execute("DELETE FROM sessions WHERE id = ?", [sessionId])
    : await db.execute("DELETE FROM sessions WHERE id = ? AND user_id = ?", [sessionId, userId]);
  return affectedRows === 1;
}

/** Delete every session of a user except `keepSessionId` (all of them when undefined). */
export async function deleteUserSessions(
  db: Queryable,
  userId: number,
  keepSessionId?: number,
): Promise<number> {
  const { affectedRows } = keepSessionId === undefined
    ? await db.execute("DELETE FROM sessions WHERE user_id = ?", [userId])
    : await db.execute("DELETE FROM sessions WHERE user_id = ? AND id <> ?", [
      userId,
      keepSessionId,
    ]);
  return affectedRows;
}

/** Outcome of {@link deleteExpiredSessionsBatch}. */
export interface ExpiredBatch {
  /** Expired sessions found (at most the batch size); fewer than asked means none are left. */
  found: number;
  /** Sessions deleted (a session refreshed or deleted meanwhile is not counted). */
  deleted: number;
}

/**
 * Delete up to `batchSize` sessions whose refresh token expired at or before `now` (nothing can
 * use them any more). Two short autocommit statements, both driven by an index: the ids come
 * from `sessions_refresh_expires_at_idx`, the rows go by primary key with the expiry checked
 * again. A single `DELETE ... WHERE id IN (SELECT ... LIMIT n)` through a derived table is
 * portable too, but MariaDB runs it as a full scan with a dependent subquery, locking every row.
 * The id list is padded to `batchSize` so each batch size is one prepared statement.
 */
export async function deleteExpiredSessionsBatch(
  db: Queryable,
  now: Date,
  batchSize: number,
): Promise<ExpiredBatch> {
  const rows = await db.query<{ id: number }>(
    "SELECT id FROM sessions WHERE refresh_expires_at <= ? ORDER BY refresh_expires_at LIMIT ?",
    [now, batchSize],
  );
  if (rows.length === 0) return { found: 0, deleted: 0 };
  const ids = rows.map((row) => Number(row.id));
  const padded = ids.concat(new Array<number>(batchSize - ids.length).fill(ids[0]!));
  const { affectedRows } = await db.execute(
    `DELETE FROM sessions WHERE refresh_expires_at <= ? AND id IN (${
      padded.map(() => "?").join(", ")
    })`,
    [now, ...padded],
  );
  return { found: ids.length, deleted: affectedRows };
}
