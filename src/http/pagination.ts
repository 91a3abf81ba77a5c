/**
 * One pagination helper for every list route: `page >= 1`, `1 <= limit <= 100` (default 20),
 * `page × limit <= 10 000`, an opaque `cursor` for keyset paging beyond, an optional `sort` from
 * an allow-list, substring filters with LIKE wildcards escaped, and a
 * `{page, limit, total, total_relation, next_cursor, <items>}` response.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { type CursorCodec, cursorCodec, type CursorPosition } from "@/http/cursor.ts";
import { ValidationError } from "@/http/errors.ts";

/** A value bound to a keyset condition's placeholder. */
type SqlValue = string | number | Date;

/** Most rows one page may hold. */
export const MAX_PAGE_SIZE = 100;
/** Rows per page when `limit` is absent. */
export const DEFAULT_PAGE_SIZE = 20;

/**
 * Deepest row `page`/`limit` reach (`page × limit`), and the count at which `total` stops
 * counting: the ceiling Elasticsearch puts on `from + size` and `track_total_hits`.
 */
export const MAX_WINDOW = 10_000;

/** `page`, `limit` and `cursor` query parameters; out-of-range values are 422, never clamped. */
export const PageQuerySchema = z.object({
  page: z.coerce.number().int().min(1).default(1).openapi({
    param: { name: "page", in: "query" },
    example: 1,
    description: "Page number, from 1",
  }),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE).openapi({
    param: { name: "limit", in: "query" },
    example: DEFAULT_PAGE_SIZE,
    description: `Rows per page, 1 to ${MAX_PAGE_SIZE}`,
  }),
  cursor: z.string().min(1).max(4096).optional().openapi({
    param: { name: "cursor", in: "query" },
    description: "The `next_cursor` of the previous page (same sort and filters); excludes " +
      `\`page\`. Reaches any depth, where \`page × limit\` stops at ${MAX_WINDOW}`,
  }),
});

/** A field `sort` may name: its column, as the list statements qualify it, and its values. */
export interface SortField {
  column: string;
  /** Cursor values are ISO timestamps, bound as dates. */
  timestamp?: boolean;
  /** No two rows share a value (a unique index): the order has no ties to break by id. */
  unique?: boolean;
}

/**
 * Every field a list may be sorted by, `id` among them: the one object a resource writes
 * (`<resource>.sorts.ts`), from which its `sort` parameter ({@link sortParam}), ORDER BY and
 * cursors ({@link sortSpec}) derive.
 */
export type SortFields<F extends string> = Readonly<Record<F | "id", SortField>>;

/**
 * A `sort` query parameter over the fields of `sorts`: `name` ascending, `-name` descending.
 *
 * @example
 * ```ts
 * import { PageQuerySchema, sortParam } from "@/http/pagination.ts";
 *
 * const SORTS = { id: { column: "id" }, name: { column: "name" } } as const;
 * const ItemsQuery = PageQuerySchema.extend({ sort: sortParam(SORTS) });
 * ItemsQuery.parse({ sort: "-name" }).sort; // "-name"
 * ```
 */
export function sortParam<F extends string>(sorts: SortFields<F>) {
  const fields = Object.keys(sorts);
  const values = fields.flatMap((f) => [f, `-${f}`]) as [string, ...string[]];
  return z.enum(values).optional().openapi({
    param: { name: "sort", in: "query" },
    description: `Sort by ${
      fields.join(", ")
    }; prefix with - for descending. Ties are broken by id.`,
  }) as unknown as z.ZodOptional<z.ZodType<F | `-${F}`>>;
}

/** Character that escapes LIKE wildcards; use with `ESCAPE '!'` (portable across dialects). */
export const LIKE_ESCAPE_CHAR = "!";

/**
 * A LIKE pattern matching `value` anywhere, with `%`, `_`, `\` and the escape character taken
 * literally. Use as `LOWER(col) LIKE LOWER(?) ESCAPE '!'`.
 *
 * @example
 * ```ts
 * containsPattern("50%_off"); // "%50!%!_off%"
 * ```
 */
export function containsPattern(value: string): string {
  return `%${value.replace(/[!%_\\]/g, (ch) => `${LIKE_ESCAPE_CHAR}${ch}`)}%`;
}

/**
 * The schema of a page of `item` under `key`, e.g.
 * `{page, limit, total, total_relation, next_cursor, items: [...]}`.
 */
export function pageSchema<K extends string, T extends z.ZodType>(key: K, item: T, name: string) {
  return z.object({
    page: z.number().int().nullable().openapi({
      example: 1,
      description: "The page number; null on a page reached through `cursor`",
    }),
    limit: z.number().int().openapi({ example: DEFAULT_PAGE_SIZE }),
    total: z.number().int().openapi({
      example: 1,
      description: `Rows matching the filters, counted up to ${MAX_WINDOW} (see total_relation)`,
    }),
    total_relation: z.enum(["eq", "gte"]).openapi({
      example: "eq",
      description: "`eq`: total is exact; `gte`: at least total rows match (counting stopped)",
    }),
    next_cursor: z.string().nullable().openapi({
      example: null,
      description: "Pass as `cursor` for the next page; null on the last page",
    }),
    ...({ [key]: z.array(item) } as { [P in K]: z.ZodArray<T> }),
  }).openapi(name);
}

/** How `total` relates to the real number of matches. */
export type TotalRelation = "eq" | "gte";

/** `total` for `count` rows counted with `LIMIT MAX_WINDOW + 1`. */
export function cappedTotal(count: number): { total: number; relation: TotalRelation } {
  return count > MAX_WINDOW
    ? { total: MAX_WINDOW, relation: "gte" }
    : { total: count, relation: "eq" };
}

/** A validated sort: the column, its direction and how its cursor values are bound. */
export interface SortSpec<F extends string = string> {
  /** The sort value as the API names it (`-name`), `id` when absent. */
  key: string;
  /** The field it orders by (`name`), `id` when absent. */
  field: F | "id";
  column: string;
  idColumn: string;
  descending: boolean;
  /** Ordered by the id alone: cursors carry `[id]`. */
  byId: boolean;
  /** Cursor values are ISO timestamps, bound as dates. */
  timestamp: boolean;
  /**
   * The column is unique under the list's filters (a unique index serves it): no ties, so
   * ORDER BY needs no id — MariaDB does not see that a unique index is also ordered by id.
   */
  unique: boolean;
}

/**
 * Resolve a validated `sort` value against the fields of `sorts` (absent: by id).
 *
 * @example
 * ```ts
 * import { orderBy, sortSpec } from "@/http/pagination.ts";
 *
 * const SORTS = { id: { column: "id" }, created_at: { column: "created_at", timestamp: true } };
 * orderBy(sortSpec("-created_at", SORTS)); // "created_at DESC, id DESC"
 * ```
 */
export function sortSpec<F extends string>(
  sort: F | `-${F}` | undefined,
  sorts: SortFields<F>,
): SortSpec<F> {
  const descending = sort?.startsWith("-") ?? false;
  const name = (sort === undefined ? "id" : descending ? sort.slice(1) : sort) as F | "id";
  const field = sorts[name];
  return {
    key: sort ?? "id",
    field: name,
    column: field.column,
    idColumn: sorts.id.column,
    descending,
    byId: name === "id",
    timestamp: field.timestamp ?? false,
    unique: field.unique ?? false,
  };
}

/** The ORDER BY list of a sort; `id` breaks ties, in the same direction. */
export function orderBy(spec: SortSpec): string {
  const direction = spec.descending ? "DESC" : "ASC";
  return spec.byId || spec.unique
    ? `${spec.column} ${direction}`
    : `${spec.column} ${direction}, ${spec.idColumn} ${direction}`;
}

/**
 * The condition selecting rows after `position` in the sort order (keyset pagination): an
 * index range on (sort column, id), so a page costs the same at any depth. SQLite gets a row
 * value, `(col, id) > (?, ?)`, the form its planner turns into an index range (with the OR
 * form it walked the index from the start); MySQL's range optimizer wants the OR form.
 */
export function afterPosition(
  spec: SortSpec,
  position: CursorPosition,
  dialect: "mysql" | "sqlite" = "mysql",
): { sql: string; params: SqlValue[] } {
  const op = spec.descending ? "<" : ">";
  if (position.length === 1) return { sql: `${spec.idColumn} ${op} ?`, params: [position[0]] };
  const value: SqlValue = spec.timestamp ? new Date(position[0]) : position[0];
  if (dialect === "sqlite") {
    return { sql: `(${spec.column}, ${spec.idColumn}) ${op} (?, ?)`, params: [value, position[1]] };
  }
  return {
    sql: `(${spec.column} ${op} ? OR (${spec.column} = ? AND ${spec.idColumn} ${op} ?))`,
    params: [value, value, position[1]],
  };
}

/** Where a page starts: an offset (`page`) or the position after a cursor. */
export type ListWindow =
  | { offset: number; after?: undefined }
  | { offset: 0; after: CursorPosition };

/**
 * The part of a list's identity a cursor is bound to: resource, sort and filters (not `limit`,
 * which may change from page to page).
 */
export function listScope(
  resource: string,
  sort: SortSpec,
  filters: Record<string, string | number | boolean | undefined>,
): string {
  const defined = Object.entries(filters).filter(([, value]) => value !== undefined).sort();
  return `${resource}|${sort.key}|${JSON.stringify(defined)}`;
}

/**
 * Check `page`, `limit` and `cursor` together and say where the page starts. 422 for a cursor
 * with `page`, a cursor this query did not issue, or `page × limit` above {@link MAX_WINDOW}.
 */
export async function resolveWindow(options: {
  page: number;
  limit: number;
  /** Whether the request named `page` (its default is 1). */
  pageGiven: boolean;
  cursor: string | undefined;
  codec: CursorCodec;
  scope: string;
}): Promise<ListWindow> {
  const { page, limit, cursor } = options;
  if (cursor !== undefined) {
    if (options.pageGiven) {
      throw new ValidationError(
        [{ path: "query.cursor", message: "Expected either cursor or page, not both" }],
        "A cursor already says where the page starts: drop page",
      );
    }
    const after = await options.codec.decode(options.scope, cursor);
    if (!after) {
      throw new ValidationError(
        [{
          path: "query.cursor",
          message: "Expected a next_cursor issued by this list with the same sort and filters",
        }],
        "Invalid cursor",
      );
    }
    return { offset: 0, after };
  }
  if (page * limit > MAX_WINDOW) {
    throw new ValidationError(
      [{
        path: "query.page",
        message: `Expected page × limit of at most ${MAX_WINDOW}; use cursor to read further`,
      }],
      `Pages end at row ${MAX_WINDOW}: follow next_cursor (the cursor parameter) to read further`,
    );
  }
  return { offset: (page - 1) * limit };
}

/** The paging of a list request: `page` (and whether it was named), `limit`, `cursor`. */
export interface PageRequest {
  page: number;
  limit: number;
  pageGiven: boolean;
  cursor?: string | undefined;
}

/** What a list repository reads: the page's rows, where the next page starts, the total. */
export interface PageRead<Row> {
  rows: Row[];
  /** Where the next page starts; undefined on the last page. */
  next: CursorPosition | undefined;
  total: number;
  relation: TotalRelation;
}

/** A page as every list answers it; the service puts `rows` under the resource's key. */
export interface ListedPage<Row> {
  page: number | null;
  limit: number;
  total: number;
  total_relation: TotalRelation;
  next_cursor: string | null;
  rows: Row[];
}

/**
 * One list request from paging to answer: where the page starts ({@link resolveWindow}, 422
 * for a foreign, tampered or misplaced cursor and for offsets past {@link MAX_WINDOW}), the
 * repository's read, and the signed cursor of the next page.
 */
export async function readPage<Row>(options: {
  /** Signs cursors (SECRET_KEY). */
  secretKey: string;
  /** The list's {@link listScope}: a cursor continues only the list that issued it. */
  scope: string;
  request: PageRequest;
  read(window: ListWindow): Promise<PageRead<Row>>;
}): Promise<ListedPage<Row>> {
  const { request, scope } = options;
  const codec = cursorCodec(options.secretKey);
  const window = await resolveWindow({
    page: request.page,
    limit: request.limit,
    pageGiven: request.pageGiven,
    cursor: request.cursor,
    codec,
    scope,
  });
  const read = await options.read(window);
  const next = read.next && await codec.encode(scope, read.next);
  return {
    page: window.after ? null : request.page,
    limit: request.limit,
    total: read.total,
    total_relation: read.relation,
    next_cursor: next ?? null,
    rows: read.rows,
  };
}

/**
 * The `Link` header pointing at the next page (RFC 8288): the request's own path and query
 * with `cursor` set and `page` dropped, as a relative reference (right behind any proxy).
 */
export function nextLink(requestUrl: string, cursor: string): string {
  const url = new URL(requestUrl);
  url.searchParams.delete("page");
  url.searchParams.set("cursor", cursor);
  return `<${url.pathname}${url.search}>; rel="next"`;
}
