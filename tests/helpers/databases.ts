/**
 * Real databases for tests: SQLite always, MySQL/MariaDB when `TEST_MYSQL_URL` names a server
 * (e.g. `mysql://root@127.0.0.1:3306`). Each MySQL test database gets a unique name and is
 * dropped afterwards; no other database is touched.
 *
 * @module
 */
import mysql from "mysql2/promise";
import type { Database } from "@/db/database.ts";
import { openMysql } from "@/db/mysql.ts";
import { openSqlite } from "@/db/sqlite.ts";

/** A dialect the tests run against. */
export type Dialect = Database["dialect"];

/** Server URL (no database) for MySQL tests, or undefined to skip them. */
export const MYSQL_SERVER_URL = Deno.env.get("TEST_MYSQL_URL") || undefined;

/** The dialects this run covers. */
export const DIALECTS: readonly Dialect[] = MYSQL_SERVER_URL ? ["sqlite", "mysql"] : ["sqlite"];

/**
 * Set in the environment once the skip notice is printed: every test file of a `deno test` run
 * loads this module in its own isolate, but they share the process and its environment, so the
 * run prints the notice once instead of once per file.
 */
const NOTICE_PRINTED = "ITEMS_API_TEST_MYSQL_NOTICE_PRINTED";

if (!MYSQL_SERVER_URL && !Deno.env.get(NOTICE_PRINTED)) {
  Deno.env.set(NOTICE_PRINTED, "1");
  console.log("MySQL tests skipped: set TEST_MYSQL_URL=mysql://root@127.0.0.1:3306 to run them");
}

/** A database created for one test. */
export interface TestDatabase {
  dialect: Dialect;
  /** A DATABASE_URL that opens this same database (for a second app instance). */
  url: string;
  db: Database;
  /** Open another connection (pool) to the same database. */
  open(): Database;
  /** Close every connection opened here and drop the database. */
  drop(): Promise<void>;
}

function uniqueName(): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return `items_test_${Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Create an empty database of `dialect` (not migrated).
 *
 * @param options.file for SQLite: use a file (needed to share it between two instances)
 */
export async function createTestDatabase(
  dialect: Dialect,
  options: { file?: boolean; queryTimeoutMs?: number; poolSize?: number } = {},
): Promise<TestDatabase> {
  const opened: Database[] = [];
  if (dialect === "sqlite") {
    const dir = options.file ? await Deno.makeTempDir({ prefix: "items-api-test-" }) : undefined;
    const path = dir ? `${dir}/test.db` : ":memory:";
    const open = () => {
      const db = openSqlite(path);
      opened.push(db);
      return db;
    };
    const db = open();
    return {
      dialect,
      url: `sqlite:${path}`,
      db,
      open,
      drop: async () => {
        for (const d of opened) await d.close();
        if (dir) await Deno.remove(dir, { recursive: true });
      },
    };
  }
  if (!MYSQL_SERVER_URL) throw new Error("TEST_MYSQL_URL is not set");
  const name = uniqueName();
  const admin = await mysql.createConnection({ uri: MYSQL_SERVER_URL });
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const server = new URL(MYSQL_SERVER_URL);
  server.pathname = `/${name}`;
  const url = server.toString();
  const open = () => {
    const db = openMysql({
      url,
      poolSize: options.poolSize ?? 5,
      queueLimit: 100,
      queryTimeoutMs: options.queryTimeoutMs ?? 5_000,
    });
    opened.push(db);
    return db;
  };
  const db = open();
  return {
    dialect,
    url,
    db,
    open,
    drop: async () => {
      for (const d of opened) await d.close().catch(() => {});
      const conn = await mysql.createConnection({ uri: MYSQL_SERVER_URL });
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}
