/**
 * The pool's `queryFormat`: how a statement's `?` placeholders become escaped values before
 * it is sent. A measured fast path (bench/README.md); the plain equivalent is mysql2's default,
 * `mysql.format()`, which scans the whole SQL text for placeholders (skipping quotes and
 * comments) on every call, even a call without values. Here each distinct SQL text is scanned
 * once, by `mysql.format()` itself, and split at its placeholders; later calls only escape the
 * values, with the same `mysql.escape()`. So the text sent is the one mysql2 would send.
 *
 * @module
 */
import mysql, { type SqlValue } from "mysql2";

/** Distinct statements remembered; beyond this, statements are formatted the plain way. */
const MAX_STATEMENTS = 2_000;

/** Marks placeholder `i` while a statement is split; never appears in real SQL text. */
function marker(i: number): string {
  return `\u0000${i}\u0000`;
}

/** A statement split at its placeholders, for `count` values. */
interface Split {
  count: number;
  /** `count + 1` pieces of SQL text around the placeholders; undefined: not splittable. */
  parts: string[] | undefined;
}

function split(sql: string, count: number, timezone: string): Split {
  if (sql.includes("\u0000")) return { count, parts: undefined };
  const markers = Array.from({ length: count }, (_, i) => ({ toSqlString: () => marker(i) }));
  const marked = mysql.format(sql, markers, false, timezone);
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < count; i++) {
    const at = marked.indexOf(marker(i), from);
    // A `??` (identifier) placeholder, or fewer placeholders than values: the plain way.
    if (at === -1) return { count, parts: undefined };
    parts.push(marked.slice(from, at));
    from = at + marker(i).length;
  }
  parts.push(marked.slice(from));
  return { count, parts };
}

/**
 * A `queryFormat` for a mysql2 pool whose `timezone` is `timezone`: the same text as
 * `mysql.format(sql, values, false, timezone)` for the values a repository passes (strings,
 * numbers, bigints, booleans, null, Dates).
 *
 * @example
 * ```ts
 * const format = createQueryFormat("Z");
 * format("SELECT * FROM items WHERE id = ? AND name = ?", [7, "it's"]);
 * // "SELECT * FROM items WHERE id = 7 AND name = 'it\\'s'"
 * ```
 */
export function createQueryFormat(
  timezone: string,
): (sql: string, values: SqlValue[] | undefined) => string {
  const splits = new Map<string, Split>();
  return function queryFormat(sql, values) {
    if (values === undefined || values.length === 0) return sql;
    let known = splits.get(sql);
    if (known === undefined || known.count !== values.length) {
      known = split(sql, values.length, timezone);
      if (splits.size < MAX_STATEMENTS) splits.set(sql, known);
    }
    const parts = known.parts;
    if (parts === undefined) return mysql.format(sql, values, false, timezone);
    let text = parts[0]!;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (typeof value === "number" || typeof value === "bigint") {
        text += `${value}${parts[i + 1]}`;
      } else if (value === null || typeof value !== "object" || value instanceof Date) {
        text += mysql.escape(value, false, timezone) + parts[i + 1];
      } else {
        // Objects and arrays expand by context (`SET ?`, `IN (?)`): the plain way.
        return mysql.format(sql, values, false, timezone);
      }
    }
    return text;
  };
}
