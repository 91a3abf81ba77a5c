/**
 * All SQL about API keys. Keys appear here only as SHA-256 hex digests (and their first 12
 * characters, which identify a key to its owner but cannot be replayed). Listed keys come back
 * in their API shape, {@link ApiKey}. Name uniqueness per owner is the unique constraint
 * `(user_id, name)`; a violation surfaces as the database's `UniqueViolationError`, which the
 * service turns into a 409.
 *
 * @module
 */
import { type Queryable, toDate, toIsoTimestamp } from "@/db/database.ts";
import { OWNER_COLUMNS, type OwnerRow, toOwner } from "@/db/credential-owner.ts";
import type { AuthUser } from "@/http/principal.ts";
import type { ApiKey } from "@/modules/api-keys/api-keys.schemas.ts";

export type { ApiKey };

/** The scopes of a key, stored space-separated (validated against the vocabulary on creation). */
function scopeList(stored: string): string[] {
  return stored.split(" ").filter((name) => name !== "");
}

/** A new key's digest and details. */
export interface NewApiKey {
  userId: number;
  name: string;
  keyHash: string;
  prefix: string;
  scopes: readonly string[];
  now: Date;
  expiresAt: Date | null;
}

interface ApiKeyRow {
  id: number;
  user_id: number;
  name: string;
  prefix: string;
  scopes: string;
  created_at: unknown;
  last_used_at: unknown;
  expires_at: unknown;
}

const COLUMNS = "id, user_id, name, prefix, scopes, created_at, last_used_at, expires_at";

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: Number(row.id),
    name: row.name,
    prefix: row.prefix,
    scopes: scopeList(row.scopes),
    created_at: toIsoTimestamp(row.created_at),
    last_used_at: row.last_used_at === null ? null : toIsoTimestamp(row.last_used_at),
    expires_at: row.expires_at === null ? null : toIsoTimestamp(row.expires_at),
  };
}

/** Insert a key and return it (`UniqueViolationError` when the owner has one of that name). */
export async function insertApiKey(db: Queryable, key: NewApiKey): Promise<ApiKey> {
  const { insertId } = await db.execute(
    "INSERT INTO api_keys (user_id, name, key_hash, prefix, scopes, created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
    [key.userId, key.name, key.keyHash, key.prefix, key.scopes.join(" "), key.now, key.expiresAt],
  );
  return {
    id: insertId,
    name: key.name,
    prefix: key.prefix,
    scopes: [...key.scopes],
    created_at: key.now.toISOString(),
    last_used_at: null,
    expires_at: key.expiresAt?.toISOString() ?? null,
  };
}

/** How many keys a user holds (expired ones included: they still have a name and a slot). */
export async function countUserApiKeys(db: Queryable, userId: number): Promise<number> {
  const rows = await db.query<{ n: number }>(
    "SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?",
    [userId],
  );
  return Number(rows[0]?.n ?? 0);
}

/** A user's keys, oldest first. */
export async function listUserApiKeys(db: Queryable, userId: number): Promise<ApiKey[]> {
  const rows = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY id`,
    [userId],
  );
  return rows.map(toApiKey);
}

/** Delete one key; `userId` restricts it to that owner. Returns whether a row went. */
export async function deleteApiKey(db: Queryable, id: number, userId?: number): Promise<boolean> {
  const { affectedRows } = userId === undefined
    ? await db.execute("DELETE FROM api_keys WHERE id = ?", [id])
    : await db.execute("DELETE FROM api_keys WHERE id = ? AND user_id = ?", [id, userId]);
  return affectedRows === 1;
}

/** Delete every key of a user (deactivation); returns how many went. */
export async function deleteUserApiKeys(db: Queryable, userId: number): Promise<number> {
  const { affectedRows } = await db.execute("DELETE FROM api_keys WHERE user_id = ?", [userId]);
  return affectedRows;
}

/** The key holding this digest, with its owner, as the bearer check needs it. */
export interface ApiKeyWithUser {
  id: number;
  scopes: string[];
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  user: AuthUser;
}

interface ApiKeyWithUserRow extends OwnerRow {
  key_id: number;
  scopes: string;
  expires_at: unknown;
  last_used_at: unknown;
}

/** The lookup statement, built once rather than per lookup. */
const SELECT_KEY_BY_HASH =
  `SELECT k.id AS key_id, k.scopes, k.expires_at, k.last_used_at, ${OWNER_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id JOIN roles r ON r.id = u.role_id WHERE k.key_hash = ?`;

/** One indexed lookup: the key holding this digest, joined with its owner and role. */
export async function findApiKeyByHash(
  db: Queryable,
  keyHash: string,
): Promise<ApiKeyWithUser | undefined> {
  const rows = await db.query<ApiKeyWithUserRow>(
    SELECT_KEY_BY_HASH,
    [keyHash],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: Number(row.key_id),
    scopes: scopeList(row.scopes),
    expiresAt: row.expires_at === null ? null : toDate(row.expires_at),
    lastUsedAt: row.last_used_at === null ? null : toDate(row.last_used_at),
    user: toOwner(row),
  };
}

/**
 * Record use of a key, unless another request (or instance) did so after `staleBefore`; the
 * condition keeps this to about one write per key per interval.
 */
export async function touchApiKey(
  db: Queryable,
  id: number,
  now: Date,
  staleBefore: Date,
): Promise<boolean> {
  const { affectedRows } = await db.execute(
    "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
    [now, id, staleBefore],
  );
  return affectedRows === 1;
}
