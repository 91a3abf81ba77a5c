/**
 * All SQL about users.
 *
 * @module
 */
import { type Queryable, type SqlValue, toIsoTimestamp } from "@/db/database.ts";
import type { RoleName } from "@/lib/app-env.ts";
import { containsPattern, orderByClause, pageBounds } from "@/lib/pagination.ts";

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

const SELECT_USER_WITH_HASH =
  "SELECT u.id, u.username, u.role_id, r.name AS role_name, u.activated, u.created_at, u.updated_at, u.password_hash FROM users u JOIN roles r ON r.id = u.role_id";

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
    `${SELECT_USER_WITH_HASH} WHERE u.username = ?`,
    [username],
  );
  const row = rows[0];
  return row && { ...toUser(row), passwordHash: row.password_hash };
}

/** Find a user by id, with the password hash, for a password change. */
export async function findUserWithHashById(
  db: Queryable,
  id: number,
): Promise<(UserRecord & { passwordHash: string }) | undefined> {
  const rows = await db.query<UserRow & { password_hash: string }>(
    `${SELECT_USER_WITH_HASH} WHERE u.id = ?`,
    [id],
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

/** Filters, order and page of {@link listUsers}. */
export interface UserListQuery {
  page: number;
  limit: number;
  username?: string | undefined;
  activated?: boolean | undefined;
  roleId?: number | undefined;
  sort?: "id" | "-id" | "username" | "-username" | "created_at" | "-created_at" | undefined;
}

const USER_SORT_COLUMNS = { id: "u.id", username: "u.username", created_at: "u.created_at" };

/** One page of users matching the filters, and how many match in all. */
export async function listUsers(
  db: Queryable,
  query: UserListQuery,
): Promise<{ users: UserRecord[]; total: number }> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (query.username !== undefined) {
    where.push("LOWER(u.username) LIKE LOWER(?) ESCAPE '!'");
    params.push(containsPattern(query.username));
  }
  if (query.activated !== undefined) {
    where.push("u.activated = ?");
    params.push(query.activated);
  }
  if (query.roleId !== undefined) {
    where.push("u.role_id = ?");
    params.push(query.roleId);
  }
  const clause = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
  const { limit, offset } = pageBounds(query.page, query.limit);
  const order = orderByClause(query.sort, USER_SORT_COLUMNS, "u.id");
  const [rows, counted] = await Promise.all([
    db.query<UserRow>(`${SELECT_USER}${clause} ORDER BY ${order} LIMIT ? OFFSET ?`, [
      ...params,
      limit,
      offset,
    ]),
    db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM users u${clause}`, params),
  ]);
  return { users: rows.map(toUser), total: Number(counted[0]?.n ?? 0) };
}

/** Columns {@link updateUser} may change; absent ones stay as they are. */
export interface UserChanges {
  username?: string;
  passwordHash?: string;
  roleId?: number;
  activated?: boolean;
}

/**
 * Apply `changes` and bump `updated_at`; returns whether the row exists. Throws
 * `UniqueViolationError` when the new username is taken.
 */
export async function updateUser(
  db: Queryable,
  id: number,
  changes: UserChanges,
  now: Date,
): Promise<boolean> {
  const sets: string[] = [];
  const params: SqlValue[] = [];
  if (changes.username !== undefined) {
    sets.push("username = ?");
    params.push(changes.username);
  }
  if (changes.passwordHash !== undefined) {
    sets.push("password_hash = ?");
    params.push(changes.passwordHash);
  }
  if (changes.roleId !== undefined) {
    sets.push("role_id = ?");
    params.push(changes.roleId);
  }
  if (changes.activated !== undefined) {
    sets.push("activated = ?");
    params.push(changes.activated);
  }
  sets.push("updated_at = ?");
  params.push(now, id);
  const { affectedRows } = await db.execute(
    `UPDATE users SET ${sets.join(", ")} WHERE id = ?`,
    params,
  );
  return affectedRows === 1;
}

/**
 * Store an upgraded hash of the same password, unless the hash changed meanwhile (a password
 * change won the race). Leaves `updated_at` alone: nothing the user sees changed.
 */
export async function replacePasswordHash(
  db: Queryable,
  id: number,
  previousHash: string,
  newHash: string,
): Promise<boolean> {
  const { affectedRows } = await db.execute(
    "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
    [newHash, id, previousHash],
  );
  return affectedRows === 1;
}

/**
 * Take the user's row lock (MySQL) inside a transaction with a no-op write by primary key, so
 * concurrent logins of one user count and evict sessions one at a time.
 */
export async function lockUser(db: Queryable, id: number): Promise<void> {
  await db.execute("UPDATE users SET id = id WHERE id = ?", [id]);
}
