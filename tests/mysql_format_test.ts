/**
 * The pool's `queryFormat` (src/runtime/mysql-format.ts) sends the text mysql2's own `format()` would.
 */
import mysql from "mysql2";
import { createQueryFormat } from "@/runtime/mysql-format.ts";
import { assertEquals } from "./helpers/assert.ts";

const CASES: Array<[string, unknown[]]> = [
  ["SELECT * FROM t WHERE a = ? AND b = ?", [1, "x'y\\z\n"]],
  ["SELECT '?' AS q, `a?` FROM t WHERE a = ? -- ?\n AND b = ? /* ? */", [null, new Date(0)]],
  ['SELECT "?", a FROM t WHERE a = ?', [7n]],
  ["SELECT ?? FROM t WHERE a = ?", ["col", 2]],
  ["SELECT * FROM t WHERE a IN (?)", [[1, 2, 3]]],
  ["UPDATE t SET ? WHERE id = ?", [{ a: 1 }, 3]],
  ["SELECT ?, ?", [1]],
  ["SELECT ?", [1, 2]],
  ["SELECT * FROM t WHERE a = ? AND b = ?", [1.5, true]],
  ["SELECT 1", []],
];

Deno.test("queryFormat writes what mysql2's format writes, for every kind of value and placeholder", () => {
  const format = createQueryFormat("Z");
  for (const [sql, values] of CASES) {
    const expected = mysql.format(sql, values as never, false, "Z");
    // Twice: the first call splits the statement, the second uses the split.
    assertEquals(format(sql, values as never), expected, sql);
    assertEquals(format(sql, values as never), expected, sql);
  }
});

Deno.test("queryFormat formats a statement again when it is given another number of values", () => {
  const format = createQueryFormat("Z");
  const sql = "SELECT * FROM t WHERE a = ? AND b = ?";
  assertEquals(format(sql, [1, 2]), "SELECT * FROM t WHERE a = 1 AND b = 2");
  assertEquals(format(sql, [1]), mysql.format(sql, [1], false, "Z"));
});
