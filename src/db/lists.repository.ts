/**
 * The statements of every list (`GET /items`, `GET /users`): one keyset- or offset-paged
 * SELECT in the sort's index order, and a count that stops at {@link MAX_WINDOW}. Whatever the
 * table size, no list statement does unbounded work:
 *
 * - equality filters and every sort are served by an index (migrations 0003);
 * - substring filters, which no B-tree serves: on MySQL the statement carries a server-side
 *   time limit (`LIST_QUERY_TIMEOUT`); on SQLite, which runs on the event loop, the page is
 *   looked for among the next {@link SQLITE_SCAN_ROWS} rows of the sort order only;
 * - full-text search: InnoDB FULLTEXT under the same limit on MySQL, where one statement reads
 *   the page and `total` counts to its end (counting the matches would cost as much again); on
 *   SQLite the FTS5 match set, which must hold at most {@link MAX_WINDOW} rows to be sorted.
 *
 * Past those bounds the list fails with {@link QueryTooCostlyError} (422) instead of working on.
 *
 * @module
 */
import { type Database, type SqlValue, StatementTimeoutError } from "@/db/database.ts";
import type { CursorPosition } from "@/http/cursor.ts";
import { QueryTooCostlyError, ServiceUnavailableError } from "@/http/errors.ts";
import {
  afterPosition,
  cappedTotal,
  type ListWindow,
  MAX_WINDOW,
  orderBy,
  type PageRead,
  type SortSpec,
  type TotalRelation,
} from "@/http/pagination.ts";

/**
 * Rows of the sort order a SQLite list with a substring filter examines at most: a few ms of
 * LIKE on a 2-core machine, well inside the 50 ms a request may hold the event loop, even with
 * a couple of such requests queued ahead of another.
 */
export const SQLITE_SCAN_ROWS = 10_000;

/** A SQL condition and its parameters. */
export interface Condition {
  sql: string;
  params: SqlValue[];
}

/** Everything one list statement needs; the SQL pieces come from the calling repository. */
export interface ListSpec<Row> {
  /** `items`, or `users u` (table and alias). */
  table: string;
  /** The SELECT list, qualified as `table` names it. */
  columns: string;
  /**
   * The index that serves this sort under these filters (MySQL `FORCE INDEX`): the optimizer
   * estimates from the table's statistics and, on a small or skewed table, may prefer a scan
   * and a filesort that grow with the table. Unset for full-text searches.
   */
  mysqlIndex?: string | undefined;
  /** Joins for the SELECT list only (never needed to filter or sort). */
  joins?: string;
  sort: SortSpec;
  /** Equality filters: each sort's index starts with them (migrations 0003). */
  filters: Condition[];
  /** Substring filters (`LIKE '%…%'`): no index serves them. */
  substrings: Condition[];
  /** Full-text search, per dialect. */
  search?: {
    /** A condition on the id column (MySQL). */
    mysql: Condition;
    /** A SELECT of matching ids as `wid` (SQLite FTS5). */
    sqlite: Condition;
  };
  window: ListWindow;
  limit: number;
  /** MySQL's server-side limit on each list statement (LIST_QUERY_TIMEOUT). */
  serverTimeoutMs: number;
  /** The position of a row, for the next page's cursor. */
  positionOf(row: Row): CursorPosition;
  /** What the 422 tells the client to narrow. */
  narrowHint: string;
}

/** One page and what is known of the total (what `readPage` in http/pagination.ts reads). */
export type ListPage<Row> = PageRead<Row>;

function where(conditions: readonly Condition[]): { sql: string; params: SqlValue[] } {
  return {
    sql: conditions.length > 0 ? ` WHERE ${conditions.map((c) => c.sql).join(" AND ")}` : "",
    params: conditions.flatMap((c) => c.params),
  };
}

/** Split the `limit + 1` rows read into the page and whether more follow. */
function finish<Row>(
  spec: ListSpec<Row>,
  read: Row[],
  total: { total: number; relation: TotalRelation },
): ListPage<Row> {
  const rows = read.slice(0, spec.limit);
  const last = rows[rows.length - 1];
  const more = read.length > spec.limit;
  return { rows, next: more && last ? spec.positionOf(last) : undefined, ...total };
}

/**
 * `total` when counting is dearer than the page (a substring filter): the rows up to the end
 * of this page, plus one when more follow (`gte`); exact on the last page.
 */
function pageTotal<Row>(spec: ListSpec<Row>, read: Row[]) {
  const more = read.length > spec.limit;
  return {
    total: spec.window.offset + Math.min(read.length, spec.limit) + (more ? 1 : 0),
    relation: (more || spec.window.after ? "gte" : "eq") as TotalRelation,
  };
}

/** Run a list on either dialect. */
export function listPage<Row>(db: Database, spec: ListSpec<Row>): Promise<ListPage<Row>> {
  return db.dialect === "mysql" ? listMysql(db, spec) : listSqlite(db, spec);
}

async function listMysql<Row>(db: Database, spec: ListSpec<Row>): Promise<ListPage<Row>> {
  const order = orderBy(spec.sort);
  const matching = [
    ...spec.filters,
    ...(spec.search ? [spec.search.mysql] : []),
    ...spec.substrings,
  ];
  const page = where([
    ...matching,
    ...(spec.window.after ? [afterPosition(spec.sort, spec.window.after)] : []),
  ]);
  const options = { serverTimeoutMs: spec.serverTimeoutMs };
  const counted = where(matching);
  const hint = spec.mysqlIndex && !spec.search ? ` FORCE INDEX (${spec.mysqlIndex})` : "";
  const joins = spec.joins ?? "";
  // Counting a substring filter's matches is a scan; counting a full-text search's costs as
  // much as its page (InnoDB reads a row per match in either): `total` then counts to the page.
  const countable = spec.substrings.length === 0 && !spec.search;
  try {
    const [read, count] = await Promise.all([
      db.query<Row>(
        `SELECT ${spec.columns} FROM ${spec.table}${hint}${joins}${page.sql} ORDER BY ${order} LIMIT ? OFFSET ?`,
        [...page.params, spec.limit + 1, spec.window.offset],
        options,
      ),
      !countable ? undefined : db.query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${spec.table}${counted.sql} LIMIT ${
          MAX_WINDOW + 1
        }) AS matching`,
        counted.params,
        options,
      ),
    ]);
    return finish(
      spec,
      read,
      count ? cappedTotal(Number(count[0]?.n ?? 0)) : pageTotal(spec, read),
    );
  } catch (error) {
    if (!(error instanceof StatementTimeoutError)) throw error;
    if (spec.substrings.length > 0 || spec.search) {
      throw new QueryTooCostlyError(
        `The list took longer than ${spec.serverTimeoutMs} ms: ${spec.narrowHint}`,
        { cause: error },
      );
    }
    throw new ServiceUnavailableError("The list took too long; try again", { cause: error });
  }
}

async function listSqlite<Row>(db: Database, spec: ListSpec<Row>): Promise<ListPage<Row>> {
  const order = orderBy(spec.sort);
  const after = spec.window.after ? [afterPosition(spec.sort, spec.window.after, "sqlite")] : [];
  const select = `SELECT ${spec.columns} FROM`;
  const joins = spec.joins ?? "";
  const idColumn = spec.sort.idColumn;

  if (spec.search) {
    // The match set is sorted in memory: it must be small enough to sort in a few ms.
    const candidates = spec.search.sqlite;
    const [found] = await db.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM (${candidates.sql} LIMIT ${MAX_WINDOW + 1})`,
      candidates.params,
    );
    if (Number(found?.n ?? 0) > MAX_WINDOW) {
      throw new QueryTooCostlyError(
        `q matches more than ${MAX_WINDOW} items: add or lengthen words`,
      );
    }
    const rest = where([...spec.filters, ...spec.substrings, ...after]);
    const from = `(${candidates.sql}) AS c CROSS JOIN ${spec.table} ON ${idColumn} = c.wid`;
    const read = await db.query<Row>(
      `${select} ${from}${joins}${rest.sql} ORDER BY ${order} LIMIT ? OFFSET ?`,
      [...candidates.params, ...rest.params, spec.limit + 1, spec.window.offset],
    );
    const matching = where([...spec.filters, ...spec.substrings]);
    const [count] = matching.sql === "" ? [found] : await db.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM (${candidates.sql}) AS c CROSS JOIN ${spec.table} ON ${idColumn} = c.wid${matching.sql}`,
      [...candidates.params, ...matching.params],
    );
    return finish(spec, read, cappedTotal(Number(count?.n ?? 0)));
  }

  if (spec.substrings.length > 0) {
    // Examine a bounded run of the sort order (from the cursor, or from the start for page
    // offsets) and filter it: dense matches fill the page at once; rare ones would need a
    // scan of the whole table, which is refused below. The run is a co-routine read in the
    // sort order and the filter keeps that order, so the outer query stops after the page
    // without sorting (the plan test checks there is no temporary B-tree).
    const scanned = where([...spec.filters, ...after]);
    const alias = spec.table.split(" ").pop()!;
    const windowSql =
      `SELECT ${spec.columns} FROM ${spec.table}${joins}${scanned.sql} ORDER BY ${order} LIMIT ${SQLITE_SCAN_ROWS}`;
    const filter = where(spec.substrings);
    const read = await db.query<Row>(
      `SELECT * FROM (${windowSql}) AS ${alias}${filter.sql} LIMIT ? OFFSET ?`,
      [...scanned.params, ...filter.params, spec.limit + 1, spec.window.offset],
    );
    if (read.length <= spec.limit) {
      const [examined] = await db.query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${spec.table}${scanned.sql} ORDER BY ${order} LIMIT ${SQLITE_SCAN_ROWS})`,
        scanned.params,
      );
      if (Number(examined?.n ?? 0) >= SQLITE_SCAN_ROWS) {
        throw new QueryTooCostlyError(
          `Too few of the next ${SQLITE_SCAN_ROWS} rows match to fill the page: ${spec.narrowHint}`,
        );
      }
    }
    return finish(spec, read, pageTotal(spec, read));
  }

  const page = where([...spec.filters, ...after]);
  const read = await db.query<Row>(
    `${select} ${spec.table}${joins}${page.sql} ORDER BY ${order} LIMIT ? OFFSET ?`,
    [...page.params, spec.limit + 1, spec.window.offset],
  );
  const counted = where(spec.filters);
  const [count] = await db.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${spec.table}${counted.sql} LIMIT ${MAX_WINDOW + 1})`,
    counted.params,
  );
  return finish(spec, read, cappedTotal(Number(count?.n ?? 0)));
}
