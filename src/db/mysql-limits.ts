/**
 * Limits the MySQL/MariaDB server enforces itself, so a statement the service gave up on does
 * not keep running: a server-side time cap written into the statement, and `KILL` of the
 * connection whose statement ran past its deadline.
 *
 * @module
 */
import mysql from "mysql2";
import type { Connection, ConnectionOptions } from "mysql2";

/** Which server speaks the protocol: their statement time limits differ. */
export type ServerFlavor = "mariadb" | "mysql";

/** The flavor of a server from its `VERSION()` (`10.11.19-MariaDB-…` or `8.4.3`). */
export function flavorOf(version: string): ServerFlavor {
  return /mariadb/i.test(version) ? "mariadb" : "mysql";
}

/**
 * `sql` with a server-side limit of `ms`: MariaDB's `SET STATEMENT max_statement_time=… FOR`
 * (any statement), MySQL's `MAX_EXECUTION_TIME` optimizer hint (SELECT only; other statements
 * are left as they are and bounded by the client deadline and {@link StatementKiller}).
 *
 * @example
 * ```ts
 * capStatement("SELECT 1", 2000, "mariadb"); // "SET STATEMENT max_statement_time=2.000 FOR SELECT 1"
 * capStatement("SELECT 1", 2000, "mysql"); // "SELECT /*+ MAX_EXECUTION_TIME(2000) *\/ 1"
 * ```
 */
export function capStatement(sql: string, ms: number, flavor: ServerFlavor): string {
  const limit = Math.max(1, Math.ceil(ms));
  if (flavor === "mariadb") {
    return `SET STATEMENT max_statement_time=${(limit / 1000).toFixed(3)} FOR ${sql}`;
  }
  return sql.replace(/^\s*SELECT\b/i, `SELECT /*+ MAX_EXECUTION_TIME(${limit}) */`);
}

/**
 * Error numbers of a statement stopped by its server-side time limit: MariaDB's
 * ER_STATEMENT_TIMEOUT (1969, unknown to mysql2's code table) and MySQL's ER_QUERY_TIMEOUT.
 */
export const SERVER_TIMEOUT_ERRNOS = new Set([1969, 3024]);

/**
 * Stops server threads whose statement outlived its deadline, over one connection of its own
 * (never the pool's: the pool may be exhausted by exactly those statements). Closing the
 * client's socket is not enough: the server notices only when it next writes, after the
 * statement finished — for a full scan, minutes later.
 */
export class StatementKiller {
  #connection: Connection | undefined;

  constructor(readonly options: ConnectionOptions) {}

  /** Ask the server to end connection `threadId` (best effort; failures are dropped). */
  kill(threadId: number | undefined): void {
    if (threadId === undefined || !Number.isSafeInteger(threadId)) return;
    if (!this.#connection) {
      const connection = mysql.createConnection(this.options);
      connection.on("error", () => {
        if (this.#connection === connection) this.#connection = undefined;
      });
      this.#connection = connection;
    }
    const connection = this.#connection;
    connection.query(`KILL ${threadId}`, (error) => {
      // Unknown thread: it ended meanwhile. Anything else: reconnect next time.
      if (error && (error as { code?: string }).code !== "ER_NO_SUCH_THREAD") {
        if (this.#connection === connection) this.#connection = undefined;
        connection.destroy();
      }
    });
  }

  /** Close the connection, if one was opened. */
  close(): void {
    this.#connection?.destroy();
    this.#connection = undefined;
  }
}
