/**
 * All SQL about items. Name uniqueness per owner is the database's unique constraint
 * `(user_id, name)`; a violation becomes a `ConflictError` (409) here, in one place.
 *
 * @module
 */
import {
  type Database,
  type Queryable,
  type SqlValue,
  toIsoTimestamp,
  UniqueViolationError,
} from "@/db/database.ts";
import { type Condition, type ListPage, listPage } from "@/db/lists.repository.ts";
import type { CursorPosition } from "@/lib/cursor.ts";
import { ConflictError } from "@/lib/errors.ts";
import { containsPattern, type ListWindow, type SortSpec } from "@/lib/pagination.ts";

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
  /** Full-text words, each matching a word prefix (see {@link searchWords}). */
  q?: readonly string[] | undefined;
  sort: SortSpec;
  window: ListWindow;
  limit: number;
  /** MySQL's server-side limit on each list statement. */
  serverTimeoutMs: number;
}

/** A field `sort` may name. */
export type ItemSortField = "id" | "name" | "created_at" | "updated_at";
/** A `sort` value: a field, or a field prefixed with `-` for descending. */
export type ItemSortKey = ItemSortField | `-${ItemSortField}`;

/** The column of each sort field; qualified, as list statements join the FTS match set. */
export const ITEM_SORT_COLUMNS: Record<ItemSortField, string> = {
  id: "items.id",
  name: "items.name",
  created_at: "items.created_at",
  updated_at: "items.updated_at",
};

/** The index serving each sort column, alone and after `user_id = ?` (migrations 0001, 0003). */
const SORT_INDEXES: Record<string, string> = {
  "items.id": "PRIMARY",
  "items.name": "items_name_id_idx",
  "items.created_at": "items_created_at_idx",
  "items.updated_at": "items_updated_at_id_idx",
};
const USER_SORT_INDEXES: Record<string, string> = {
  "items.id": "items_user_id_id_idx",
  "items.name": "items_user_id_name_unique",
  "items.created_at": "items_user_id_created_at_id_idx",
  "items.updated_at": "items_user_id_updated_at_id_idx",
};

/** Sort fields whose cursor values are timestamps. */
export const ITEM_TIMESTAMP_FIELDS: readonly ItemSortField[] = ["created_at", "updated_at"];

interface ItemRow {
  id: number;
  user_id: number;
  name: string;
  description: string | null;
  created_at: unknown;
  updated_at: unknown;
}

const COLUMNS = "id, user_id, name, description, created_at, updated_at";
const COLUMNS_QUALIFIED =
  "items.id, items.user_id, items.name, items.description, items.created_at, items.updated_at";

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

/** The words of a `q` search: runs of letters and digits, case folded by the index. */
export function searchWords(q: string): string[] {
  return q.match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * One page of items matching the filters, and how many match (exactly up to 10 000). `q`
 * words must each begin a word of the name or the description (all of them: AND).
 */
export async function listItems(
  db: Database,
  query: ItemListQuery,
): Promise<ListPage<ItemRecord>> {
  const filters: Condition[] = [];
  const substrings: Condition[] = [];
  if (query.userId !== undefined) filters.push({ sql: "user_id = ?", params: [query.userId] });
  if (query.name !== undefined) {
    substrings.push({
      sql: "LOWER(name) LIKE LOWER(?) ESCAPE '!'",
      params: [containsPattern(query.name)],
    });
  }
  if (query.description !== undefined) {
    substrings.push({
      sql: "LOWER(description) LIKE LOWER(?) ESCAPE '!'",
      params: [containsPattern(query.description)],
    });
  }
  const words = query.q ?? [];
  const search = words.length === 0 ? undefined : {
    mysql: {
      sql:
        "id IN (SELECT item_id FROM items_search WHERE MATCH (body) AGAINST (? IN BOOLEAN MODE))",
      params: [words.map((word) => `+${word}*`).join(" ")],
    },
    sqlite: {
      sql: "SELECT rowid AS wid FROM items_fts WHERE items_fts MATCH ?",
      params: [words.map((word) => `"${word}"*`).join(" ")],
    },
  };
  const page = await listPage<ItemRow>(db, {
    table: "items",
    mysqlIndex: (query.userId === undefined ? SORT_INDEXES : USER_SORT_INDEXES)[query.sort.column],
    columns: COLUMNS_QUALIFIED,
    // Names are unique per owner: under user_id the name order has no ties.
    sort: {
      ...query.sort,
      unique: query.userId !== undefined && query.sort.column === ITEM_SORT_COLUMNS.name,
    },
    filters,
    substrings,
    ...(search ? { search } : {}),
    window: query.window,
    limit: query.limit,
    serverTimeoutMs: query.serverTimeoutMs,
    positionOf: (row) => positionOf(query.sort, row),
    narrowHint: "use a longer name or description substring, add user_id, or search with q",
  });
  return { ...page, rows: page.rows.map(toItem) };
}

/** Where a page ending at `row` stops, in the sort's terms. */
function positionOf(sort: SortSpec, row: ItemRow): CursorPosition {
  const id = Number(row.id);
  switch (sort.column) {
    case "items.name":
      return [row.name, id];
    case "items.created_at":
      return [toIsoTimestamp(row.created_at), id];
    case "items.updated_at":
      return [toIsoTimestamp(row.updated_at), id];
    default:
      return [id];
  }
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
