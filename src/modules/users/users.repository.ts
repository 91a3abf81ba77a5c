/**
 * All SQL about users.
 *
 * @module
 */
import { type Queryable, toIsoTimestamp } from "@/db/database.ts";
import type { RoleName } from "@/lib/app-env.ts";

/** A user as stored, without the password hash. */
export interface UserRecord {
  id: number;
  username: string;
  roleId: number;
  role: RoleName;
  activated: boolean;
  createdAt: string;
  updatedAt: string;
}

interface UserRow {
  id: number;
  username: string;
  role_id: number;
  role_name: RoleName;
  activated: number;
  created_at: unknown;
  updated_at: unknown;
}

const SELECT_USER =
  "SELECT u.id, u.username, u.role_id, r.name AS role_name, u.activated, u.created_at, u.updated_at FROM users u JOIN roles r ON r.id = u.role_id";

function toUser(row: UserRow): UserRecord {
  return {
    id: Number(row.id),
    username: row.username,
    roleId: Number(row.role_id),
    role: row.role_name,
    activated: Boolean(row.activated),
    createdAt: toIsoTimestamp(row.created_at),
    updatedAt: toIsoTimestamp(row.updated_at),
  };
}

/** Find a user by id. */
export async function findUserById(db: Queryable, id: number): Promise<UserRecord | undefined> {
  const rows = await db.query<UserRow>(`${SELECT_USER} WHERE u.id = ?`, [id]);
  return rows[0] && toUser(rows[0]);
}

/** Find a user by username (case-insensitive), with the password hash, for login. */
export async function findUserWithHashByUsername(
  db: Queryable,
  username: string,
): Promise<(UserRecord & { passwordHash: string }) | undefined> {
  const rows = await db.query<UserRow & { password_hash: string }>(
    `SELECT u.id, u.username, u.role_id, r.name AS role_name, u.activated, u.created_at, u.updated_at, u.password_hash FROM users u JOIN roles r ON r.id = u.role_id WHERE u.username = ?`,
    [username],
  );
  const row = rows[0];
  return row && { ...toUser(row), passwordHash: row.password_hash };
}

/** How many activated users have the admin role. */
export async function countActiveAdmins(db: Queryable): Promise<number> {
  const rows = await db.query<{ n: number }>(
    "SELECT COUNT(*) AS n FROM users u JOIN roles r ON r.id = u.role_id WHERE r.name = 'admin' AND u.activated = 1",
  );
  return Number(rows[0]?.n ?? 0);
}

/** Insert a user; throws `UniqueViolationError` when the username is taken. */
export async function insertUser(
  db: Queryable,
  user: { username: string; passwordHash: string; roleId: number; now: Date },
): Promise<number> {
  const { insertId } = await db.execute(
    "INSERT INTO users (username, password_hash, role_id, activated, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)",
    [user.username, user.passwordHash, user.roleId, user.now, user.now],
  );
  return insertId;
}
