/**
 * MySQL/MariaDB adapter over a mysql2 pool: bounded wait queue, per-query timeout, UTC dates,
 * driver errors mapped to the portable errors of {@link ./database.ts}.
 *
 * @module
 */
import mysql from "mysql2";
import type { Pool as CorePool, PoolConnection as CorePoolConnection } from "mysql2";
import type { Pool, PoolConnection, ResultSetHeader } from "mysql2/promise";
import {
  BudgetedDatabase,
  type Database,
  DatabaseUnavailableError,
  type ExecuteResult,
  ForeignKeyViolationError,
  type LockResult,
  type PoolStats,
  type Queryable,
  type SqlValue,
  type StatementOptions,
  StatementTimeoutError,
  TransactionConflictError,
  type TransactionOptions,
  UniqueViolationError,
  withDeadline,
  withDeadlineAt,
} from "@/db/database.ts";
import {
  capStatement,
  flavorOf,
  SERVER_TIMEOUT_ERRNOS,
  type ServerFlavor,
  StatementKiller,
} from "@/db/mysql-limits.ts";
import { createQueryFormat } from "@/runtime/mysql-format.ts";
import { DeadlineQueue } from "@/runtime/deadlines.ts";
import type { QueryBudget } from "@/runtime/query-budget.ts";

/** Dates are read and written as UTC. */
const TIMEZONE = "Z";

/** Options of {@link openMysql}. */
export interface MysqlOptions {
  url: string;
  poolSize: number;
  /** How many callers may wait for a connection before new ones fail at once. */
  queueLimit: number;
  /**
   * Longest a query (including the wait for a connection) may take; also the budget all
   * statements of one request share (see `@/runtime/query-budget.ts`).
   */
  queryTimeoutMs: number;
}

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "POOL_CLOSED",
]);

/** How often a statement or transaction aborted by a deadlock is run in all. */
const DEADLOCK_ATTEMPTS = 3;

/** InnoDB chose this statement or transaction as a deadlock victim and rolled it back. */
function isDeadlock(error: unknown): boolean {
  return error instanceof TransactionConflictError &&
    (error.cause as { code?: string } | undefined)?.code === "ER_LOCK_DEADLOCK";
}

/** A few milliseconds, random, growing with the attempt: the colliding work gets out of the way. */
function deadlockBackoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8 * attempt));
}

/** Translate a mysql2 error into a portable one; anything unknown is returned unchanged. */
function translateError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  const e = error as { code?: string; errno?: number; fatal?: boolean; message?: string };
  if (e?.code === "ER_LOCK_DEADLOCK" || e?.code === "ER_LOCK_WAIT_TIMEOUT") {
    return new TransactionConflictError({ cause: error });
  }
  if (e?.errno !== undefined && SERVER_TIMEOUT_ERRNOS.has(e.errno)) {
    return new StatementTimeoutError({ cause: error });
  }
  if (e?.code === "ER_DUP_ENTRY") {
    const key = /for key '([^']+)'/.exec(e.message ?? "")?.[1] ?? "unknown";
    return new UniqueViolationError(key, { cause: error });
  }
  if (e?.code === "ER_NO_REFERENCED_ROW_2" || e?.code === "ER_NO_REFERENCED_ROW") {
    return new ForeignKeyViolationError({ cause: error });
  }
  if (
    (e?.code && UNAVAILABLE_CODES.has(e.code)) || e?.fatal === true ||
    e?.message === "Queue limit reached."
  ) {
    return new DatabaseUnavailableError(`MySQL unavailable (${e.code ?? e.message})`, {
      cause: error,
    });
  }
  return error;
}

function toParams(params: readonly SqlValue[]): unknown[] {
  return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p));
}

interface PoolInternals {
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  _connectionQueue?: { length: number };
}

class MysqlDatabase implements Database {
  readonly dialect = "mysql" as const;
  #core: CorePool;
  #pool: Pool;
  #timeoutMs: number;
  #statementDeadlines: DeadlineQueue;
  #killer: StatementKiller;
  #flavor: Promise<ServerFlavor> | undefined;

  constructor(core: CorePool, timeoutMs: number, killer: StatementKiller) {
    this.#core = core;
    this.#pool = core.promise();
    this.#timeoutMs = timeoutMs;
    this.#statementDeadlines = new DeadlineQueue(timeoutMs);
    this.#killer = killer;
  }

  /**
   * Run a statement with its deadline (epoch ms): the query timeout, or sooner when the
   * request's budget ends sooner (charged while the statement runs), or `options.timeoutMs`.
   * `run` is given the deadline and the budget, and must call `budget.end()` once it settles.
   */
  #budgeted<T>(
    options: StatementOptions | undefined,
    run: (at: number, budget: QueryBudget | undefined) => Promise<T>,
  ): Promise<T> {
    const now = Date.now();
    if (options?.timeoutMs !== undefined) return run(now + options.timeoutMs, undefined);
    const budget = options?.budget;
    if (!budget) return run(now + this.#timeoutMs, undefined);
    return run(Math.min(now + this.#timeoutMs, budget.begin(now)), budget);
  }

  /** `sql` under the server-side limit `options` ask for, in the server's own syntax. */
  async #capped(sql: string, options: StatementOptions | undefined): Promise<string> {
    if (options?.serverTimeoutMs === undefined) return sql;
    this.#flavor ??= this.#statement<Array<{ v: string }>>("SELECT VERSION() AS v", [])
      .then((rows) => flavorOf(rows[0]?.v ?? ""))
      .catch((error) => {
        this.#flavor = undefined;
        throw error;
      });
    return capStatement(sql, options.serverTimeoutMs, await this.#flavor);
  }

  /**
   * One statement outside a transaction — the hot path: a pooled connection and the statement
   * under one deadline, through mysql2's callback API: a measured fast path (bench/README.md);
   * the plain equivalent is mysql2's promise API. A connection whose
   * statement ran out of time or failed at the network level is destroyed, never returned:
   * after a partition it may be half-open, and mysql2 keeps a timed-out command pending on it
   * forever, which would starve the pool. A statement InnoDB chose as a deadlock victim was
   * rolled back and runs again, up to {@link DEADLOCK_ATTEMPTS} times in all.
   *
   * The deadline is `at` (see {@link #budgeted}); a statement still running then is
   * killed on the server as well, so the database stops working for a client that was told 503.
   * The request's `budget` is charged until the statement (with its retries) settles, in the
   * same callbacks: no promise more per statement.
   */
  #statement<T>(
    sql: string,
    params: readonly SqlValue[],
    attempt = 1,
    at = Date.now() + this.#timeoutMs,
    budget?: QueryBudget,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let conn: CorePoolConnection | undefined;
      if (at <= Date.now()) {
        budget?.end();
        return reject(new DatabaseUnavailableError("The request's database time is spent"));
      }
      const deadline = this.#statementDeadlines.addAt(at, () => {
        settled = true;
        budget?.end();
        const threadId = conn?.threadId;
        conn?.destroy();
        this.#killer.kill(threadId);
        reject(new DatabaseUnavailableError("MySQL query did not finish in time"));
      });
      /** Stop the deadline; return the connection, or destroy it when it may be broken. */
      const settle = (broken: boolean) => {
        settled = true;
        this.#statementDeadlines.remove(deadline);
        if (broken) conn?.destroy();
        else conn?.release();
      };
      const fail = (error: unknown) => {
        const translated = translateError(error);
        settle(translated instanceof DatabaseUnavailableError);
        if (isDeadlock(translated) && attempt < DEADLOCK_ATTEMPTS) {
          deadlockBackoff(attempt)
            .then(() => this.#statement<T>(sql, params, attempt + 1, at, budget))
            .then(resolve, reject);
        } else {
          budget?.end();
          reject(translated);
        }
      };
      this.#core.getConnection((connectError, acquired) => {
        if (settled) {
          // Handed over after the deadline: nobody waits for it any more.
          acquired?.release();
          return;
        }
        if (connectError) return fail(connectError);
        conn = acquired;
        acquired.query(sql, toParams(params), (queryError, result) => {
          if (settled) return; // the deadline destroyed the connection
          if (queryError) return fail(queryError);
          settle(false);
          budget?.end();
          resolve(result as T);
        });
      });
    });
  }

  /**
   * Run one statement under the query deadline. (No mysql2 `timeout` as well: its timer per
   * query would only duplicate this one, and a connection whose statement ran out of time is
   * destroyed by the caller either way.)
   */
  async #run<T>(
    fn: (conn: PoolConnection) => Promise<T>,
    on: PoolConnection,
    options?: StatementOptions,
  ) {
    try {
      return await this.#budgeted(
        options,
        (at, budget) =>
          withDeadlineAt(fn(on), at, "MySQL query", () => {
            // The caller destroys the connection (the error is DatabaseUnavailableError).
            this.#killer.kill(on.threadId);
          }).finally(() => budget?.end()),
      );
    } catch (error) {
      throw translateError(error);
    }
  }

  /** Statements on a transaction's connection; with a `control` budget, each draws on it. */
  #queryable(on: PoolConnection, control: TransactionOptions | undefined): Queryable {
    const within = (options: StatementOptions | undefined) =>
      options === undefined || control === undefined
        ? options ?? control
        : { ...options, ...control };
    return {
      query: <T>(sql: string, params: readonly SqlValue[] = [], options?: StatementOptions) =>
        this.#run(
          async (c) => {
            const [rows] = await c.query(await this.#capped(sql, options), toParams(params));
            return rows as T[];
          },
          on,
          within(options),
        ),
      execute: (sql: string, params: readonly SqlValue[] = [], options?: StatementOptions) =>
        this.#run(
          async (c): Promise<ExecuteResult> => {
            const [header] = await c.query<ResultSetHeader>(
              await this.#capped(sql, options),
              toParams(params),
            );
            return { insertId: Number(header.insertId), affectedRows: header.affectedRows };
          },
          on,
          within(options),
        ),
    };
  }

  query<T = Record<string, unknown>>(
    sql: string,
    params: readonly SqlValue[] = [],
    options?: StatementOptions,
  ): Promise<T[]> {
    if (options?.serverTimeoutMs === undefined) {
      return this.#budgeted(
        options,
        (at, budget) => this.#statement<T[]>(sql, params, 1, at, budget),
      );
    }
    return this.#capped(sql, options).then((capped) =>
      this.#budgeted(options, (at, budget) => this.#statement<T[]>(capped, params, 1, at, budget))
    );
  }

  async execute(
    sql: string,
    params: readonly SqlValue[] = [],
    options?: StatementOptions,
  ): Promise<ExecuteResult> {
    const capped = options?.serverTimeoutMs === undefined ? sql : await this.#capped(sql, options);
    const header = await this.#budgeted(
      options,
      (at, budget) => this.#statement<ResultSetHeader>(capped, params, 1, at, budget),
    );
    return { insertId: Number(header.insertId), affectedRows: header.affectedRows };
  }

  async #connection(timeoutMs = this.#timeoutMs): Promise<PoolConnection> {
    const pending = this.#pool.getConnection();
    try {
      return await withDeadline(pending, timeoutMs, "MySQL connect");
    } catch (error) {
      // The pool may still hand this waiter a connection later: give it straight back.
      pending.then((conn) => conn.release(), () => {});
      throw translateError(error);
    }
  }

  /**
   * Run `fn` in a transaction. When InnoDB aborts it to break a deadlock, the whole
   * transaction was rolled back, and `fn` runs again (up to {@link DEADLOCK_ATTEMPTS} times).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#transaction(fn, options?.budget, 1);
  }

  async #transaction<T>(
    fn: (tx: Queryable) => Promise<T>,
    budget: QueryBudget | undefined,
    attempt: number,
  ): Promise<T> {
    const conn = await this.#connection();
    const control = budget && { budget };
    let broken = false;
    try {
      await this.#run((c) => c.query("START TRANSACTION"), conn, control);
      const value = await fn(this.#queryable(conn, control));
      await this.#run((c) => c.query("COMMIT"), conn, control);
      return value;
    } catch (error) {
      broken = error instanceof DatabaseUnavailableError;
      if (!broken) await conn.query("ROLLBACK").catch(() => (broken = true));
      if (!isDeadlock(error) || attempt >= DEADLOCK_ATTEMPTS) throw error;
    } finally {
      // A connection that timed out or failed mid-transaction is in an unknown state.
      if (broken) conn.destroy();
      else conn.release();
    }
    await deadlockBackoff(attempt);
    return this.#transaction(fn, budget, attempt + 1);
  }

  async withLock<T>(
    name: string,
    waitSeconds: number,
    fn: () => Promise<T>,
  ): Promise<LockResult<T>> {
    const conn = await this.#connection();
    let broken = false;
    try {
      // GET_LOCK itself waits up to `waitSeconds`: its deadline is that plus a query's.
      const getLock = conn.query("SELECT GET_LOCK(?, ?) AS acquired", [name, waitSeconds]);
      const [rows] = await withDeadline(
        getLock,
        waitSeconds * 1000 + this.#timeoutMs,
        "MySQL GET_LOCK",
      ).catch((error) => {
        const translated = translateError(error);
        broken = translated instanceof DatabaseUnavailableError;
        throw translated;
      }) as [Array<{ acquired: number | null }>, unknown];
      if (rows[0]?.acquired !== 1) return { acquired: false };
      try {
        return { acquired: true, value: await fn() };
      } finally {
        await this.#run((c) => c.query("SELECT RELEASE_LOCK(?)", [name]), conn)
          .catch(() => (broken = true));
      }
    } finally {
      // Destroying the connection also releases the lock on the server.
      if (broken) conn.destroy();
      else conn.release();
    }
  }

  /** A connection and `SELECT 1` within `timeoutMs` in all; a connection that hung is destroyed. */
  async ping(timeoutMs: number): Promise<void> {
    let conn: PoolConnection | undefined;
    let abandoned = false;
    const attempt = (async () => {
      const acquired = await this.#pool.getConnection();
      // Handed over after the deadline: nobody waits for it any more.
      if (abandoned) return acquired.release();
      conn = acquired;
      await acquired.query("SELECT 1");
    })();
    try {
      await withDeadline(attempt, timeoutMs, "MySQL ping");
      conn?.release();
    } catch (error) {
      abandoned = true;
      attempt.catch(() => {});
      conn?.destroy();
      throw translateError(error);
    }
  }

  withBudget(budget: QueryBudget): Database {
    return new BudgetedDatabase(this, budget);
  }

  stats(): PoolStats {
    const internals = this.#core as unknown as PoolInternals;
    const all = internals._allConnections?.length ?? 0;
    const idle = internals._freeConnections?.length ?? 0;
    return { inUse: all - idle, idle, waiting: internals._connectionQueue?.length ?? 0 };
  }

  async close(): Promise<void> {
    this.#killer.close();
    await this.#pool.end();
  }
}

/** Open a pooled MySQL database from a `mysql://user:pass@host:port/db` URL. */
export function openMysql(options: MysqlOptions): Database {
  const url = new URL(options.url);
  const server = {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1)),
    connectTimeout: Math.min(options.queryTimeoutMs, 10_000),
  };
  const core = mysql.createPool({
    ...server,
    connectionLimit: options.poolSize,
    maxIdle: options.poolSize,
    queueLimit: options.queueLimit,
    waitForConnections: true,
    enableKeepAlive: true,
    timezone: TIMEZONE,
    queryFormat: createQueryFormat(TIMEZONE),
    charset: "utf8mb4_unicode_ci",
    supportBigNumbers: true,
    decimalNumbers: true,
  });
  // Connection-level errors surface through the failing query; keep them off the process.
  core.on("connection", (conn: CorePoolConnection) => {
    conn.on("error", () => {});
    // Sessions speak UTC so server-side time functions agree with the DATETIME values.
    conn.query("SET time_zone = '+00:00'", () => {});
  });
  return new MysqlDatabase(core, options.queryTimeoutMs, new StatementKiller(server));
}
