/**
 * All SQL about items. Rows come back in their API shape, {@link Item}. Name uniqueness per
 * owner is the database's unique constraint `(user_id, name)`; a violation surfaces as the
 * database's `UniqueViolationError`, which the service turns into a 409.
 *
 * @module
 */
import { type Database, type Queryable, type SqlValue, toIsoTimestamp } from "@/db/database.ts";
import { type Condition, type ListPage, listPage } from "@/db/lists.repository.ts";
import type { CursorPosition } from "@/http/cursor.ts";
import { containsPattern, type ListWindow, type SortSpec } from "@/http/pagination.ts";
import type { Item } from "@/modules/items/items.schemas.ts";
import { ITEM_SORTS, type ItemSortField } from "@/modules/items/items.sorts.ts";

export type { Item };

/** Filters, sort and page of a list. */
export interface ItemListQuery {
  name?: string | undefined;
  description?: string | undefined;
  userId?: number | undefined;
  /** Full-text words, each matching a word prefix (see {@link searchWords}). */
  q?: readonly string[] | undefined;
  sort: SortSpec<ItemSortField>;
  window: ListWindow;
  limit: number;
  /** MySQL's server-side limit on each list statement. */
  serverTimeoutMs: number;
}

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

function toItem(row: ItemRow): Item {
  return {
    id: Number(row.id),
    user_id: Number(row.user_id),
    name: row.name,
    description: row.description,
    created_at: toIsoTimestamp(row.created_at),
    updated_at: toIsoTimestamp(row.updated_at),
  };
}

/** Find an item by id. */
export async function findItemById(db: Queryable, id: number): Promise<Item | undefined> {
  const rows = await db.query<ItemRow>(`SELECT ${COLUMNS} FROM items WHERE id = ?`, [id]);
  return rows[0] && toItem(rows[0]);
}

/**
 * Take the item's row lock for the rest of the transaction (MySQL; SQLite runs one write
 * transaction at a time), with a no-op write by primary key.
 */
export async function lockItem(db: Queryable, id: number): Promise<void> {
  await db.execute("UPDATE items SET id = id WHERE id = ?", [id]);
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
export async function listItems(db: Database, query: ItemListQuery): Promise<ListPage<Item>> {
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
  const field = query.sort.field;
  const page = await listPage<ItemRow>(db, {
    table: "items",
    mysqlIndex: query.userId === undefined ? ITEM_SORTS[field].index : ITEM_SORTS[field].ownerIndex,
    columns: COLUMNS_QUALIFIED,
    // Names are unique per owner: under user_id the name order has no ties.
    sort: { ...query.sort, unique: query.userId !== undefined && field === "name" },
    filters,
    substrings,
    ...(search ? { search } : {}),
    window: query.window,
    limit: query.limit,
    serverTimeoutMs: query.serverTimeoutMs,
    positionOf: (row) => positionOf(field, toItem(row)),
    narrowHint: "use a longer name or description substring, add user_id, or search with q",
  });
  return { ...page, rows: page.rows.map(toItem) };
}

/** Where a page ending at `item` stops, in the sort's terms. */
function positionOf(field: ItemSortField, item: Item): CursorPosition {
  return field === "id" ? [item.id] : [item[field], item.id];
}

/** What an insert sets; `now` becomes both timestamps. */
export type ItemInsert = Pick<Item, "user_id" | "name" | "description"> & { now: Date };

/** Insert an item and return it. */
export async function insertItem(db: Queryable, item: ItemInsert): Promise<Item> {
  const { insertId } = await db.execute(
    "INSERT INTO items (user_id, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
    [item.user_id, item.name, item.description, item.now, item.now],
  );
  const created = item.now.toISOString();
  return {
    id: insertId,
    user_id: item.user_id,
    name: item.name,
    description: item.description,
    created_at: created,
    updated_at: created,
  };
}

/** What an update may change (absent: unchanged; `description: null` clears it); `now` stamps it. */
export type ItemUpdate = Partial<Pick<Item, "name" | "description">> & { now: Date };

/**
 * Change an item's name and/or description and return it, or undefined when it does not
 * exist. Keeping its own name is no change to the unique constraint.
 */
export async function updateItem(
  db: Queryable,
  id: number,
  changes: ItemUpdate,
): Promise<Item | undefined> {
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
    await db.execute(`UPDATE items SET ${assignments.join(", ")} WHERE id = ?`, [...params, id]);
  }
  return await findItemById(db, id);
}

/** Delete an item; false when it did not exist. */
export async function deleteItem(db: Queryable, id: number): Promise<boolean> {
  const { affectedRows } = await db.execute("DELETE FROM items WHERE id = ?", [id]);
  return affectedRows > 0;
}
