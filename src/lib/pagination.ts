/**
 * One pagination helper for every list route: `page >= 1`, `1 <= limit <= 100` (default 20),
 * an optional `sort` from an allow-list, substring filters with LIKE wildcards escaped, and a
 * `{page, limit, total, <items>}` response.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";

/** Most rows one page may hold. */
export const MAX_PAGE_SIZE = 100;
/** Rows per page when `limit` is absent. */
export const DEFAULT_PAGE_SIZE = 20;

/** `page` and `limit` query parameters; out-of-range values are 422, never clamped. */
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
});

/**
 * A `sort` query parameter over `fields`: `name` ascending, `-name` descending.
 *
 * @example
 * ```ts
 * const ItemsQuery = PageQuerySchema.extend({ sort: sortParam(["id", "name", "created_at"]) });
 * ```
 */
export function sortParam<const F extends string>(fields: readonly [F, ...F[]]) {
  const values = fields.flatMap((f) => [f, `-${f}`]) as [string, ...string[]];
  return z.enum(values).optional().openapi({
    param: { name: "sort", in: "query" },
    example: `-${fields[0]}`,
    description: `Sort by ${
      fields.join(", ")
    }; prefix with - for descending. Ties are broken by id.`,
  }) as unknown as z.ZodOptional<z.ZodType<F | `-${F}`>>;
}

/**
 * The ORDER BY clause for a validated `sort` value. Column names come from the allow-list,
 * never from the request; `id` breaks ties so pages never overlap or skip rows.
 */
export function orderByClause<F extends string>(
  sort: F | `-${F}` | undefined,
  columns: Record<F, string>,
  idColumn = "id",
): string {
  if (!sort) return `${idColumn} ASC`;
  const descending = sort.startsWith("-");
  const field = (descending ? sort.slice(1) : sort) as F;
  const direction = descending ? "DESC" : "ASC";
  const column = columns[field];
  return column === idColumn
    ? `${idColumn} ${direction}`
    : `${column} ${direction}, ${idColumn} ${direction}`;
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

/** LIMIT/OFFSET of a page. */
export function pageBounds(page: number, limit: number): { limit: number; offset: number } {
  return { limit, offset: (page - 1) * limit };
}

/** The schema of a page of `item` under `key`, e.g. `{page, limit, total, items: [...]}`. */
export function pageSchema<K extends string, T extends z.ZodType>(key: K, item: T, name: string) {
  return z.object({
    page: z.number().int().openapi({ example: 1 }),
    limit: z.number().int().openapi({ example: DEFAULT_PAGE_SIZE }),
    total: z.number().int().openapi({ example: 1, description: "Rows matching the filters" }),
    ...({ [key]: z.array(item) } as { [P in K]: z.ZodArray<T> }),
  }).openapi(name);
}
