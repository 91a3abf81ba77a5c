/**
 * All SQL about users. Rows come back in their API shape, {@link User}.
 *
 * @module
 */
import { type Database, type Queryable, type SqlValue, toIsoTimestamp } from "@/db/database.ts";
import { type Condition, type ListPage, listPage } from "@/db/lists.repository.ts";
import type { RoleName } from "@/http/principal.ts";
import type { CursorPosition } from "@/http/cursor.ts";
import { containsPattern, type ListWindow, type SortSpec } from "@/http/pagination.ts";
import type { User } from "@/modules/users/users.schemas.ts";
import { USER_SORTS, type UserSortField } from "@/modules/users/users.sorts.ts";

export type { User };

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

function toUser(row: UserRow): User {
  return {
    id: Number(row.id),
    username: row.username,
    role_id: Number(row.role_id),
    role: row.role_name,
    activated: Boolean(row.activated),
    created_at: toIsoTimestamp(row.created_at),
    updated_at: toIsoTimestamp(row.updated_at),
  };
}

/** Find a user by id. */
export async function findUserById(db: Queryable, id: number): Promise<User | undefined> {
  const rows = await db.query<UserRow>(`${SELECT_USER} WHERE u.id = ?`, [id]);
  return rows[0] && toUser(rows[0]);
}

/** Find a user by username (case-insensitive), with the password hash, for login. */
export async function findUserWithHashByUsername(
  db: Queryable,
  username: string,
): Promise<(User & { passwordHash: string }) | undefined> {
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
): Promise<(User & { passwordHash: string }) | undefined> {
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
  username?: string | undefined;
  activated?: boolean | undefined;
  roleId?: number | undefined;
  sort: SortSpec<UserSortField>;
  window: ListWindow;
  limit: number;
  /** MySQL's server-side limit on each list statement. */
  serverTimeoutMs: number;
}

/** One page of users matching the filters, and how many match (exactly up to 10 000). */
export async function listUsers(
  db: Database,
  query: UserListQuery,
): Promise<ListPage<User>> {
  const filters: Condition[] = [];
  const substrings: Condition[] = [];
  if (query.activated !== undefined) {
    filters.push({ sql: "u.activated = ?", params: [query.activated] });
  }
  if (query.roleId !== undefined) filters.push({ sql: "u.role_id = ?", params: [query.roleId] });
  if (query.username !== undefined) {
    substrings.push({
      sql: "LOWER(u.username) LIKE LOWER(?) ESCAPE '!'",
      params: [containsPattern(query.username)],
    });
  }
  const sort = query.sort;
  const field = USER_SORTS[sort.field];
  const page = await listPage<UserRow>(db, {
    table: "users u",
    mysqlIndex: query.roleId !== undefined
      ? field.roleIndex
      : query.activated !== undefined
      ? field.activatedIndex
      : field.index,
    // The join only names the role: LEFT, so the planner keeps users (and their index order)
    // as the driving table.
    joins: " LEFT JOIN roles r ON r.id = u.role_id",
    columns:
      "u.id, u.username, u.role_id, r.name AS role_name, u.activated, u.created_at, u.updated_at",
    sort,
    filters,
    substrings,
    window: query.window,
    limit: query.limit,
    serverTimeoutMs: query.serverTimeoutMs,
    positionOf: (row): CursorPosition =>
      field === USER_SORTS.username
        ? [row.username, Number(row.id)]
        : field === USER_SORTS.created_at
        ? [toIsoTimestamp(row.created_at), Number(row.id)]
        : [Number(row.id)],
    narrowHint: "use a longer username substring, or add role_id or activated",
  });
  return { ...page, rows: page.rows.map(toUser) };
}

/** Columns {@link updateUser} may change; absent ones stay as they are. */
export interface UserChanges {
  username?: string;
  passwordHash?: string;
  roleId?: number;
  activated?: boolean;
}

/**
 * Apply `changes` and bump `updated_at`; returns whether the row exists (and, with
 * `expected`, still shows what `expected` shows: a compare-and-set on the representation).
 * Throws `UniqueViolationError` when the new username is taken.
 */
export async function updateUser(
  db: Queryable,
  id: number,
  changes: UserChanges,
  now: Date,
  expected?: User,
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
  let where = "id = ?";
  if (expected) {
    where += " AND username = ? AND role_id = ? AND activated = ? AND updated_at = ?";
    params.push(
      expected.username,
      expected.role_id,
      expected.activated,
      new Date(expected.updated_at),
    );
  }
  const { affectedRows } = await db.execute(
    `UPDATE users SET ${sets.join(", ")} WHERE ${where}`,
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
