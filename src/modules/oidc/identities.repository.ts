/**
 * All SQL about provider identities: the `(issuer, subject)` of a provider's access tokens,
 * linked to one local user.
 *
 * @module
 */
import { OWNER_COLUMNS, type OwnerRow, toOwner } from "@/db/credential-owner.ts";
import { type Queryable, toDate } from "@/db/database.ts";
import type { AuthUser } from "@/http/principal.ts";

/** A linked identity and the local user it belongs to. */
export interface IdentityUser {
  identityId: number;
  lastSeenAt: Date;
  user: AuthUser;
}

interface IdentityUserRow extends OwnerRow {
  identity_id: number;
  last_seen_at: unknown;
}

/** The lookup statement, built once rather than per lookup. */
const SELECT_IDENTITY_USER =
  `SELECT i.id AS identity_id, i.last_seen_at, ${OWNER_COLUMNS} FROM identities i JOIN users u ON u.id = i.user_id JOIN roles r ON r.id = u.role_id WHERE i.issuer = ? AND i.subject = ?`;

/** The user linked to `(issuer, subject)`, or undefined when this identity is new. */
export async function findIdentityUser(
  db: Queryable,
  issuer: string,
  subject: string,
): Promise<IdentityUser | undefined> {
  const rows = await db.query<IdentityUserRow>(
    SELECT_IDENTITY_USER,
    [issuer, subject],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    identityId: Number(row.identity_id),
    lastSeenAt: toDate(row.last_seen_at),
    user: toOwner(row),
  };
}

/** Link `(issuer, subject)` to a user; throws `UniqueViolationError` when already linked. */
export async function insertIdentity(
  db: Queryable,
  identity: { userId: number; issuer: string; subject: string; now: Date },
): Promise<number> {
  const { insertId } = await db.execute(
    "INSERT INTO identities (user_id, issuer, subject, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
    [identity.userId, identity.issuer, identity.subject, identity.now, identity.now],
  );
  return insertId;
}

/** Record a use of the identity, unless one was recorded since `staleBefore`. */
export async function touchIdentity(
  db: Queryable,
  identityId: number,
  now: Date,
  staleBefore: Date,
): Promise<void> {
  await db.execute(
    "UPDATE identities SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?",
    [now, identityId, staleBefore],
  );
}
