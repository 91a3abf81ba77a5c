/**
 * Every list shape is served by an index: the statements the list repositories run are
 * recorded over a seeded database and explained (MySQL `EXPLAIN FORMAT=JSON`: no full table
 * scan, no filesort; SQLite `EXPLAIN QUERY PLAN`: no table scan outside the sort order, no
 * temporary B-tree for ORDER BY), so a later change cannot quietly bring back a scan.
 */
import { assert } from "./helpers/assert.ts";
import { createTestDatabase, DIALECTS } from "./helpers/databases.ts";
import type { Database, SqlValue, StatementOptions } from "@/db/database.ts";
import { migrate } from "@/db/migrate.ts";
import type { CursorPosition } from "@/http/cursor.ts";
import { type ListWindow, sortSpec } from "@/http/pagination.ts";
import { listItems } from "@/modules/items/items.repository.ts";
import { ITEM_SORTS, type ItemSortKey } from "@/modules/items/items.sorts.ts";
import { listUsers } from "@/modules/users/users.repository.ts";
import { USER_SORTS, type UserSortKey } from "@/modules/users/users.sorts.ts";
import { seedScale } from "../bench/scale-seed.ts";

interface Recorded {
  sql: string;
  params: readonly SqlValue[];
}

/** The real database, with every SELECT it is asked to run written down. */
function recording(db: Database): { db: Database; statements: Recorded[] } {
  const statements: Recorded[] = [];
  const wrapped = Object.create(db) as Database;
  Object.assign(wrapped, {
    dialect: db.dialect,
    query: (sql: string, params: readonly SqlValue[] = [], options?: StatementOptions) => {
      statements.push({ sql, params });
      return db.query(sql, params, options);
    },
  });
  return { db: wrapped, statements };
}

/** Objects in a MySQL JSON plan, depth first. */
function* nodes(value: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(value)) { for (const v of value) yield* nodes(v); }
  else if (value && typeof value === "object") {
    yield value as Record<string, unknown>;
    for (const v of Object.values(value)) yield* nodes(v);
  }
}

const BASE_TABLES = new Set(["items", "u", "users", "items_search"]);

async function explain(
  db: Database,
  statement: Recorded,
  shape: string,
  allowSort: boolean,
  /** A cursor page: the page statement must seek (an index range), not walk from the start. */
  seek = false,
) {
  const isPage = !statement.sql.includes("COUNT(*)");
  if (db.dialect === "mysql") {
    const rows = await db.query<Record<string, string>>(
      `EXPLAIN FORMAT=JSON ${statement.sql}`,
      statement.params,
    );
    const plan = JSON.parse(Object.values(rows[0]!)[0]!);
    if (seek && isPage) {
      assert(
        [...nodes(plan)].some((n) => n.access_type === "range" || n.access_type === "ref"),
        `${shape}: a cursor page must seek\n${statement.sql}\n${JSON.stringify(plan, null, 1)}`,
      );
    }
    for (const node of nodes(plan)) {
      const table = node.table_name as string | undefined;
      if (table && BASE_TABLES.has(table)) {
        assert(
          node.access_type !== "ALL",
          `${shape}: full scan of ${table}\n${statement.sql}\n${JSON.stringify(plan, null, 1)}`,
        );
      }
      if (!allowSort) {
        assert(
          !("filesort" in node) && node.using_filesort !== true,
          `${shape}: filesort\n${statement.sql}\n${JSON.stringify(plan, null, 1)}`,
        );
      }
    }
    return;
  }
  const rows = await db.query<{ detail: string }>(
    `EXPLAIN QUERY PLAN ${statement.sql}`,
    statement.params,
  );
  const details = rows.map((r) => r.detail);
  const text = `${shape}\n${statement.sql}\n${details.join("\n")}`;
  if (seek && isPage) {
    assert(details.some((d) => d.startsWith("SEARCH")), `a cursor page must seek: ${text}`);
  }
  const rowidOrder = /ORDER BY (items|u)\.id (ASC|DESC)( LIMIT|$)/.test(statement.sql);
  // A co-routine (a bounded run of the sort order, read in order) may carry the table's name.
  const coroutines = new Set(details.flatMap((d) => /^CO-ROUTINE (\S+)$/.exec(d)?.slice(1) ?? []));
  for (const detail of details) {
    if (coroutines.has(detail.replace(/^SCAN /, ""))) continue;
    // A bare SCAN of the table reads it in rowid order: only fine when that is the sort order
    // (the LIMIT stops it), as a covering or ordered index scan is.
    if (/^SCAN (items|u)$/.test(detail)) assert(rowidOrder, `table scan: ${text}`);
    if (!allowSort) assert(!detail.includes("TEMP B-TREE"), `sort without an index: ${text}`);
  }
}

/** Every `sort` value of a list: each field of its sorts object, both directions. */
function sortKeys<F extends string>(sorts: Record<F, unknown>): Array<F | `-${F}`> {
  return (Object.keys(sorts) as F[]).flatMap((field) => [field, `-${field}` as const]);
}

const ITEM_SORT_KEYS: ItemSortKey[] = sortKeys(ITEM_SORTS);
const USER_SORT_KEYS: UserSortKey[] = sortKeys(USER_SORTS);

function cursorFor(sort: string): CursorPosition {
  if (sort.endsWith("id")) return [5_000];
  if (sort.endsWith("name")) return ["Item 5000", 5_000];
  return ["2026-01-01T01:23:20.000Z", 5_000];
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] every list shape uses an index, in EXPLAIN`, async (s) => {
    const database = await createTestDatabase(dialect);
    try {
      await migrate(database.db);
      const seeded = await seedScale(database.db, { users: 3_000, items: 30_000 });
      const windows: Array<[string, ListWindow]> = [
        ["first page", { offset: 0 }],
        ["page 50", { offset: 980 }],
      ];
      for (const sort of ITEM_SORT_KEYS) {
        for (const userId of [undefined, seeded.firstUserId + 7]) {
          for (
            const [label, window] of [
              ...windows,
              ["cursor", { offset: 0, after: cursorFor(sort) }] as [string, ListWindow],
            ]
          ) {
            const shape = `items sort=${sort}${userId ? " user_id" : ""} ${label}`;
            await s.step(shape, async () => {
              const { db, statements } = recording(database.db);
              await listItems(db, {
                userId,
                sort: sortSpec(sort, ITEM_SORTS),
                window,
                limit: 20,
                serverTimeoutMs: 5_000,
              });
              for (const statement of statements) {
                await explain(database.db, statement, shape, false, window.after !== undefined);
              }
            });
          }
        }
        // Substring filters: no index can serve them; the sort's index is walked in order
        // (MySQL, under LIST_QUERY_TIMEOUT; SQLite, a bounded run of it), never sorted.
        await s.step(`items description substring sort=${sort}`, async () => {
          const { db, statements } = recording(database.db);
          await listItems(db, {
            description: "notebook",
            sort: sortSpec(sort, ITEM_SORTS),
            window: { offset: 0 },
            limit: 20,
            serverTimeoutMs: 5_000,
          });
          for (const statement of statements) {
            await explain(database.db, statement, `name sort=${sort}`, false);
          }
        });
        // Full-text search: the match set comes from the full-text index; sorting it is
        // bounded by its size (at most 10 000 rows on SQLite, LIST_QUERY_TIMEOUT on MySQL).
        await s.step(`items q sort=${sort}`, async () => {
          const { db, statements } = recording(database.db);
          await listItems(db, {
            q: ["k042"],
            sort: sortSpec(sort, ITEM_SORTS),
            window: { offset: 0 },
            limit: 20,
            serverTimeoutMs: 5_000,
          });
          for (const statement of statements) {
            await explain(database.db, statement, `q sort=${sort}`, true);
          }
          if (dialect === "mysql") {
            const rows = await database.db.query<Record<string, string>>(
              `EXPLAIN FORMAT=JSON ${statements[0]!.sql}`,
              statements[0]!.params,
            );
            assert(JSON.stringify(rows[0]).includes("fulltext"), "q uses the FULLTEXT index");
          } else {
            const plan = await database.db.query<{ detail: string }>(
              `EXPLAIN QUERY PLAN ${statements[statements.length - 1]!.sql}`,
              statements[statements.length - 1]!.params,
            );
            assert(plan.some((r) => r.detail.includes("VIRTUAL TABLE INDEX")), "q uses FTS5");
          }
        });
      }
      for (const sort of USER_SORT_KEYS) {
        for (const filter of [{}, { roleId: 2 }, { activated: true }]) {
          for (const [label, window] of windows) {
            const shape = `users sort=${sort} ${JSON.stringify(filter)} ${label}`;
            await s.step(shape, async () => {
              const { db, statements } = recording(database.db);
              await listUsers(db, {
                ...filter,
                sort: sortSpec(sort, USER_SORTS),
                window,
                limit: 20,
                serverTimeoutMs: 5_000,
              });
              for (const statement of statements) {
                await explain(database.db, statement, shape, false);
              }
            });
          }
        }
      }
    } finally {
      await database.drop();
    }
  });
}
