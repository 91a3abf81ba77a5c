/**
 * All SQL about items. Name uniqueness per owner is the database's unique constraint
 * `(user_id, name)`; a violation becomes a `ConflictError` (409) here, in one place.
 *
 * @module
 */
import {
  type Queryable,
  type SqlValue,
  toIsoTimestamp,
  UniqueViolationError,
} from "@/db/database.ts";
import { ConflictError } from "@/lib/errors.ts";
import { containsPattern, orderByClause, pageBounds } from "@/lib/pagination.ts";

/** An item as stored. */
export interface ItemRecord {
  id: number;
  userId: number;
  name: string;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Filters, sort and page of a list. */
export interface ItemListQuery {
  name?: string | undefined;
  description?: string | undefined;
  userId?: number | undefined;
  sort?: ItemSortKey | undefined;
  page: number;
  limit: number;
}

type ItemSortField = "id" | "name" | "created_at" | "updated_at";
/** A `sort` value: a field, or a field prefixed with `-` for descending. */
export type ItemSortKey = ItemSortField | `-${ItemSortField}`;

const SORT_COLUMNS: Record<ItemSortField, string> = {
  id: "id",
  name: "name",
  created_at: "created_at",
  updated_at: "updated_at",
};

interface ItemRow {
  id: number;
  user_id: number;
  name: string;
  description: string | null;
  created_at: unknown;
  updated_at: unknown;
}

const COLUMNS = "id, user_id, name, description, created_at, updated_at";

function toItem(row: ItemRow): ItemRecord {
  return {
    id: Number(row.id),
    userId: Number(row.user_id),
    name: row.name,
    description: row.description,
    createdAt: toIsoTimestamp(row.created_at),
    updatedAt: toIsoTimestamp(row.updated_at),
  };
}

/** The one place a duplicate `(user_id, name)` becomes a 409. */
async function unlessNameTaken<T>(name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof UniqueViolationError) {
      throw new ConflictError(`An item named "${name}" already exists for this owner`);
    }
    throw error;
  }
}

/** Find an item by id. */
export async function findItemById(db: Queryable, id: number): Promise<ItemRecord | undefined> {
  const rows = await db.query<ItemRow>(`SELECT ${COLUMNS} FROM items WHERE id = ?`, [id]);
  return rows[0] && toItem(rows[0]);
}

/** The owner's user id of an item, or undefined when there is no such item. */
export async function findItemOwnerId(db: Queryable, id: number): Promise<number | undefined> {
  const rows = await db.query<{ user_id: number }>("SELECT user_id FROM items WHERE id = ?", [id]);
  return rows[0] && Number(rows[0].user_id);
}

/** One page of items matching the filters, and how many match in all. */
export async function listItems(
  db: Queryable,
  query: ItemListQuery,
): Promise<{ total: number; items: ItemRecord[] }> {
  const conditions: string[] = [];
  const params: SqlValue[] = [];
  if (query.name !== undefined) {
    conditions.push("LOWER(name) LIKE LOWER(?) ESCAPE '!'");
    params.push(containsPattern(query.name));
  }
  if (query.description !== undefined) {
    conditions.push("LOWER(description) LIKE LOWER(?) ESCAPE '!'");
    params.push(containsPattern(query.description));
  }
  if (query.userId !== undefined) {
    conditions.push("user_id = ?");
    params.push(query.userId);
  }
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "";
  const { limit, offset } = pageBounds(query.page, query.limit);
  const rows = await db.query<ItemRow>(
    `SELECT ${COLUMNS} FROM items${where} ORDER BY ${
      orderByClause(query.sort, SORT_COLUMNS)
    } LIMIT ? OFFSET ?`,
    [...params, limit, offset],
  );
  const counted = await db.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM items${where}`,
    params,
  );
  return { total: Number(counted[0]?.n ?? 0), items: rows.map(toItem) };
}

/** Insert an item; a name the owner already uses is a `ConflictError` (409). */
export function insertItem(
  db: Queryable,
  item: { userId: number; name: string; description: string | null; now: Date },
): Promise<ItemRecord> {
  return unlessNameTaken(item.name, async () => {
    const { insertId } = await db.execute(
      "INSERT INTO items (user_id, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
      [item.userId, item.name, item.description, item.now, item.now],
    );
    const created = item.now.toISOString();
    return {
      id: insertId,
      userId: item.userId,
      name: item.name,
      description: item.description,
      createdAt: created,
      updatedAt: created,
    };
  });
}

/**
 * Change an item's name and/or description (absent: unchanged; `description: null` clears it)
 * and return it, or undefined when it does not exist. Renaming to a name the owner already
 * uses for another item is a `ConflictError`; keeping its own name is not.
 */
export async function updateItem(
  db: Queryable,
  id: number,
  changes: { name?: string | undefined; description?: string | null | undefined; now: Date },
): Promise<ItemRecord | undefined> {
  const assignments: string[] = [];
  const params: SqlValue[] = [];
  if (changes.name !== undefined) {
    assignments.push("name = ?");
    params.push(changes.name);
  }
  if (changes.description !== undefined) {
    assignments.push("description = ?");
    params.push(changes.description);
  }
  if (assignments.length > 0) {
    assignments.push("updated_at = ?");
    params.push(changes.now);
    await unlessNameTaken(
      changes.name ?? "",
      () => db.execute(`UPDATE items SET ${assignments.join(", ")} WHERE id = ?`, [...params, id]),
    );
  }
  return await findItemById(db, id);
}

/** Delete an item; false when it did not exist. */
export async function deleteItem(db: Queryable, id: number): Promise<boolean> {
  const { affectedRows } = await db.execute("DELETE FROM items WHERE id = ?", [id]);
  return affectedRows > 0;
}
