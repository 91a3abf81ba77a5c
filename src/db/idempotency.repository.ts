/**
 * All SQL about idempotency keys: a create's reservation, its stored answer, and the purge of
 * expired keys. Keys are unique per caller (`idempotency_keys_caller_key_unique`): of two
 * concurrent reservations of one key, the database lets one in and the other gets
 * `UniqueViolationError`.
 *
 * @module
 */
import { type Queryable, toDate } from "@/db/database.ts";

/** What a reservation records about the request it answers. */
export interface IdempotencyReservation {
  caller: string;
  key: string;
  /** SHA-256 (hex) of the request: method, path and body. */
  fingerprint: string;
  now: Date;
  expiresAt: Date;
}

/** A stored key: in progress (`status` null) or answered. */
export interface IdempotencyRecord {
  id: number;
  fingerprint: string;
  status: number | null;
  headers: Record<string, string>;
  body: string | null;
  createdAt: Date;
  expiresAt: Date;
}

interface Row {
  id: number;
  fingerprint: string;
  status: number | null;
  response_headers: string | null;
  response_body: string | null;
  created_at: unknown;
  expires_at: unknown;
}

/** Reserve `key` for `caller`; its id. Throws `UniqueViolationError` when the key is taken. */
export async function reserveIdempotencyKey(
  db: Queryable,
  reservation: IdempotencyReservation,
): Promise<number> {
  const { insertId } = await db.execute(
    "INSERT INTO idempotency_keys (caller, idempotency_key, fingerprint, created_at, expires_at) " +
      "VALUES (?, ?, ?, ?, ?)",
    [
      reservation.caller,
      reservation.key,
      reservation.fingerprint,
      reservation.now,
      reservation.expiresAt,
    ],
  );
  return insertId;
}

/** The stored key of `caller`, if any. */
export async function findIdempotencyKey(
  db: Queryable,
  caller: string,
  key: string,
): Promise<IdempotencyRecord | undefined> {
  const rows = await db.query<Row>(
    "SELECT id, fingerprint, status, response_headers, response_body, created_at, expires_at " +
      "FROM idempotency_keys WHERE caller = ? AND idempotency_key = ?",
    [caller, key],
  );
  const row = rows[0];
  return row && {
    id: Number(row.id),
    fingerprint: row.fingerprint,
    status: row.status === null ? null : Number(row.status),
    headers: row.response_headers === null ? {} : JSON.parse(row.response_headers),
    body: row.response_body,
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
  };
}

/** Store the answer of a reserved key. */
export async function completeIdempotencyKey(
  db: Queryable,
  id: number,
  answer: { status: number; headers: Record<string, string>; body: string },
): Promise<void> {
  await db.execute(
    "UPDATE idempotency_keys SET status = ?, response_headers = ?, response_body = ? WHERE id = ?",
    [answer.status, JSON.stringify(answer.headers), answer.body, id],
  );
}

/** Give a key up (its request failed in a way a retry may fix), or drop an expired one. */
export async function deleteIdempotencyKey(db: Queryable, id: number): Promise<void> {
  await db.execute("DELETE FROM idempotency_keys WHERE id = ?", [id]);
}

/**
 * Delete up to `batchSize` keys that expired at or before `now`; how many. The ids come from
 * `idempotency_keys_expires_at_idx`, the rows go by primary key (as the session purge does).
 */
export async function deleteExpiredIdempotencyKeys(
  db: Queryable,
  now: Date,
  batchSize: number,
): Promise<number> {
  const rows = await db.query<{ id: number }>(
    "SELECT id FROM idempotency_keys WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
    [now, batchSize],
  );
  if (rows.length === 0) return 0;
  const ids = rows.map((row) => Number(row.id));
  const { affectedRows } = await db.execute(
    `DELETE FROM idempotency_keys WHERE id IN (${
      ids.map(() => "?").join(", ")
    }) AND expires_at <= ?`,
    [...ids, now],
  );
  return affectedRows;
}
