/**
 * Open the database a `DATABASE_URL` names.
 *
 * @module
 */
import type { Config } from "@/config.ts";
import type { Database } from "@/db/database.ts";
import { openSqlite } from "@/db/sqlite.ts";

/**
 * Open `mysql://…` with a pool, or `sqlite:<path>` / `sqlite::memory:` embedded. The MySQL
 * driver is loaded only for a MySQL URL: on SQLite it would be a sizable share of startup.
 *
 * @example
 * ```ts
 * const db = await openDatabase({
 *   url: "sqlite::memory:",
 *   poolSize: 1,
 *   queueLimit: 0,
 *   queryTimeoutMs: 5000,
 *   listQueryTimeoutMs: 5000,
 * });
 * await db.close();
 * ```
 */
export async function openDatabase(options: Config["database"]): Promise<Database> {
  if (options.url.startsWith("sqlite:")) return openSqlite(options.url.slice("sqlite:".length));
  const { openMysql } = await import("@/db/mysql.ts");
  return openMysql(options);
}
