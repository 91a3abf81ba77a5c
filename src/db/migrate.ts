/**
 * Migration runner: applies `migrations/<dialect>/NNNN_name.sql` once each, in order, and
 * records them in `schema_migrations`. Safe when several instances start at once: runners take
 * a database-wide lock (MySQL `GET_LOCK`; SQLite's write lock) and re-check inside it.
 *
 * @module
 */
import type { Database } from "@/db/database.ts";

/** One migration file. */
export interface Migration {
  version: string;
  name: string;
  statements: string[];
}

const MIGRATIONS_ROOT = new URL("../../migrations/", import.meta.url);
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const LOCK_NAME = "items_api_migrations";
const LOCK_WAIT_SECONDS = 60;
/** A migration statement's deadline: index builds take as long as the table is large. */
const STATEMENT_TIMEOUT_MS = 6 * 60 * 60 * 1000;

/** Split a migration file into statements: each ends with `;` at the end of a line. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n");
  return withoutComments
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

/** Read the migrations of a dialect, sorted by version. */
export async function loadMigrations(
  dialect: Database["dialect"],
  root: URL = MIGRATIONS_ROOT,
): Promise<Migration[]> {
  const dir = new URL(`${dialect}/`, root);
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = entry.isFile ? FILE_NAME.exec(entry.name) : null;
    if (!match) continue;
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    migrations.push({ version: match[1]!, name: match[2]!, statements: splitStatements(sql) });
  }
  // Versions are fixed-width digits: plain code-unit order. (localeCompare would load ICU's
  // collator, about 20 ms of every cold start.)
  return migrations.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

/** Outcome of {@link migrate}. */
export interface MigrateResult {
  /** Versions applied by this call, e.g. `["0001_initial_schema"]`. */
  applied: string[];
}

/**
 * Apply every pending migration. A second call, or a concurrent one, applies nothing twice.
 *
 * @example
 * ```ts
 * import { openDatabase } from "@/db/open.ts";
 *
 * const db = await openDatabase({
 *   url: "sqlite::memory:",
 *   poolSize: 1,
 *   queueLimit: 0,
 *   queryTimeoutMs: 5000,
 *   listQueryTimeoutMs: 5000,
 * });
 * try {
 *   const { applied } = await migrate(db); // ["0001_initial_schema", ...]
 * } finally {
 *   await db.close();
 * }
 * ```
 */
export async function migrate(
  db: Database,
  migrations?: readonly Migration[],
): Promise<MigrateResult> {
  const all = migrations ?? await loadMigrations(db.dialect);
  const result = await db.withLock(LOCK_NAME, LOCK_WAIT_SECONDS, async () => {
    // In a transaction: on SQLite its BEGIN waits for another runner's migration without
    // blocking the event loop, where a plain statement would block it in busy_timeout.
    await db.transaction((tx) =>
      tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR(64) NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at VARCHAR(32) NOT NULL)",
      )
    );
    const applied: string[] = [];
    for (const migration of all) {
      const done = await db.transaction(async (tx) => {
        // Checked inside the transaction: another process may have applied it meanwhile.
        const rows = await tx.query("SELECT version FROM schema_migrations WHERE version = ?", [
          migration.version,
        ]);
        if (rows.length > 0) return false;
        // MySQL commits DDL implicitly; the lock is what keeps runners apart there.
        for (const statement of migration.statements) {
          await tx.execute(statement, [], { timeoutMs: STATEMENT_TIMEOUT_MS });
        }
        await tx.execute(
          "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
          [migration.version, migration.name, new Date().toISOString()],
        );
        return true;
      });
      if (done) applied.push(`${migration.version}_${migration.name}`);
    }
    return applied;
  });
  if (!result.acquired) {
    throw new Error(
      `Cannot run migrations: lock "${LOCK_NAME}" still held after ${LOCK_WAIT_SECONDS}s`,
    );
  }
  return { applied: result.value };
}
