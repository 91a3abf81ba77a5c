/**
 * Open the database a `DATABASE_URL` names.
 *
 * @module
 */
import type { Config } from "@/config.ts";
import type { Database } from "@/db/database.ts";
import { openMysql } from "@/db/mysql.ts";
import { openSqlite } from "@/db/sqlite.ts";

/**
 * Open `mysql://…` with a pool, or `sqlite:<path>` / `sqlite::memory:` embedded.
 *
 * @example
 * ```ts
 * const db = openDatabase({ url: "sqlite::memory:", poolSize: 1, queueLimit: 0, queryTimeoutMs: 5000 });
 * ```
 */
export function openDatabase(options: Config["database"]): Database {
  if (options.url.startsWith("sqlite:")) return openSqlite(options.url.slice("sqlite:".length));
  return openMysql(options);
}
