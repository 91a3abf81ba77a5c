/**
 * The database seen by repositories: portable SQL with `?` placeholders, transactions,
 * a health ping and advisory locks. Adapters: {@link ./mysql.ts} and {@link ./sqlite.ts}.
 *
 * @module
 */
import { DeadlineQueue, raceDeadline } from "@/runtime/deadlines.ts";
import type { QueryBudget } from "@/runtime/query-budget.ts";

/** A value bound to a `?` placeholder. Dates are stored as UTC, booleans as 0/1. */
export type SqlValue = string | number | bigint | boolean | null | Date;

/** Result of a write statement. */
export interface ExecuteResult {
  insertId: number;
  affectedRows: number;
}

/** Per-statement options of {@link Queryable}. */
export interface StatementOptions {
  /**
   * A limit the database server enforces on this statement (MySQL `MAX_EXECUTION_TIME`,
   * MariaDB `max_statement_time`); past it the statement fails with
   * {@link StatementTimeoutError}. SQLite runs in-process and ignores it.
   */
  serverTimeoutMs?: number;
  /**
   * This statement's own deadline instead of the query timeout and the request's budget (for
   * migrations, whose index builds take as long as the table is large).
   */
  timeoutMs?: number;
  /**
   * The request's budget this statement draws on. Set by the view {@link Database.withBudget}
   * returns; repositories never pass it.
   */
  budget?: QueryBudget;
}

/** Options of {@link Database.transaction}. */
export interface TransactionOptions {
  /** The request's budget every statement of the transaction draws on. */
  budget?: QueryBudget;
}

/** Anything that runs SQL: the database itself, or an open transaction. */
export interface Queryable {
  /** Run a statement that returns rows. */
  query<T = Record<string, unknown>>(
    sql: string,
    params?: readonly SqlValue[],
    options?: StatementOptions,
  ): Promise<T[]>;
  /** Run a statement that writes. */
  execute(
    sql: string,
    params?: readonly SqlValue[],
    options?: StatementOptions,
  ): Promise<ExecuteResult>;
}

/** Connection pool occupancy, exported as metrics. */
/** Connections of the pool, as the pool gauges report them. */
export interface PoolStats {
  inUse: number;
  idle: number;
  waiting: number;
}

/** Outcome of {@link Database.withLock}. */
export type LockResult<T> = { acquired: true; value: T } | { acquired: false };

/** A database the service can use. */
export interface Database extends Queryable {
  readonly dialect: "mysql" | "sqlite";
  /** Run `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Run `fn` while holding a named lock shared by every instance on this database
   * (MySQL `GET_LOCK`); waits at most `waitSeconds` (0: do not wait) for it.
   */
  withLock<T>(name: string, waitSeconds: number, fn: () => Promise<T>): Promise<LockResult<T>>;
  /** Fail unless the database answers within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  stats(): PoolStats;
  /**
   * This database as one request sees it: every statement, those of its transactions too,
   * draws on `budget` (see `@/runtime/query-budget.ts`). Built per request by
   * `middleware/query-budget.ts`, and cheap: a {@link BudgetedDatabase} over this one. SQLite,
   * which runs in-process, returns itself.
   */
  withBudget(budget: QueryBudget): Database;
  close(): Promise<void>;
}

/**
 * A database whose statements all draw on one request's {@link QueryBudget}; everything else
 * (locks, pings, stats, closing) is the underlying database's.
 */
export class BudgetedDatabase implements Database {
  readonly dialect: Database["dialect"];
  readonly #db: Database;
  /** The options of a statement that passes none (shared: adapters never change them). */
  readonly #options: StatementOptions & TransactionOptions;

  constructor(db: Database, budget: QueryBudget) {
    this.dialect = db.dialect;
    this.#db = db;
    this.#options = { budget };
  }

  #with(options: StatementOptions | undefined): StatementOptions {
    return options === undefined ? this.#options : { ...options, budget: this.#options.budget };
  }

  query<T = Record<string, unknown>>(
    sql: string,
    params?: readonly SqlValue[],
    options?: StatementOptions,
  ): Promise<T[]> {
    return this.#db.query<T>(sql, params, this.#with(options));
  }

  execute(
    sql: string,
    params?: readonly SqlValue[],
    options?: StatementOptions,
  ): Promise<ExecuteResult> {
    return this.#db.execute(sql, params, this.#with(options));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#db.transaction(fn, this.#options);
  }

  withLock<T>(name: string, waitSeconds: number, fn: () => Promise<T>): Promise<LockResult<T>> {
    return this.#db.withLock(name, waitSeconds, fn);
  }

  ping(timeoutMs: number): Promise<void> {
    return this.#db.ping(timeoutMs);
  }

  stats(): PoolStats {
    return this.#db.stats();
  }

  withBudget(budget: QueryBudget): Database {
    return new BudgetedDatabase(this.#db, budget);
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}

/** A unique constraint rejected the write (duplicate key). */
export class UniqueViolationError extends Error {
  override name = "UniqueViolationError";
  constructor(readonly constraint: string, options?: ErrorOptions) {
    super(`Unique constraint violated: ${constraint}`, options);
  }
}

/** A foreign key rejected the write (the referenced row does not exist). */
export class ForeignKeyViolationError extends Error {
  override name = "ForeignKeyViolationError";
  constructor(options?: ErrorOptions) {
    super("Foreign key constraint violated", options);
  }
}

/** The database gave up on a transaction (deadlock, lock wait timeout); retrying may succeed. */
export class TransactionConflictError extends Error {
  override name = "TransactionConflictError";
  constructor(options?: ErrorOptions) {
    super("Transaction aborted by a concurrent one", options);
  }
}

/** The database could not be reached or did not answer in time. */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
  constructor(message = "Database unavailable", options?: ErrorOptions) {
    super(message, options);
  }
}

/** The server stopped a statement at its {@link StatementOptions.serverTimeoutMs}. */
export class StatementTimeoutError extends Error {
  override name = "StatementTimeoutError";
  constructor(options?: ErrorOptions) {
    super("Statement stopped by its server-side time limit", options);
  }
}

/** One queue per deadline length: the adapters use a few fixed lengths. */
const deadlineQueues = new Map<number, DeadlineQueue>();

/**
 * Reject with {@link DatabaseUnavailableError} when `promise` takes longer than `ms`. Every
 * query has a deadline, so they share one timer per length rather than one timer each.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let queue = deadlineQueues.get(ms);
  if (!queue) deadlineQueues.set(ms, queue = new DeadlineQueue(ms));
  return raceDeadline(
    promise,
    queue,
    () => new DatabaseUnavailableError(`${what} did not finish within ${ms} ms`),
  );
}

/** Deadlines at given instants (a request's query budget), sorted by {@link DeadlineQueue.addAt}. */
const instantDeadlines = new DeadlineQueue(0);

/**
 * Reject with {@link DatabaseUnavailableError} when `promise` is still pending at `at` (epoch
 * ms); then call `onExpire` too, to stop the abandoned work.
 */
export function withDeadlineAt<T>(
  promise: Promise<T>,
  at: number,
  what: string,
  onExpire?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const deadline = instantDeadlines.addAt(at, () => {
      reject(new DatabaseUnavailableError(`${what} did not finish in time`));
      onExpire?.();
    });
    promise.then(
      (value) => {
        instantDeadlines.remove(deadline);
        resolve(value);
      },
      (error) => {
        instantDeadlines.remove(deadline);
        reject(error);
      },
    );
  });
}

/** A timestamp column as an ISO 8601 UTC string, whichever form the driver returned. */
export function toIsoTimestamp(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string") {
    return new Date(value.endsWith("Z") ? value : `${value}Z`).toISOString();
  }
  throw new TypeError(`Cannot read a timestamp from ${typeof value}`);
}

/** A timestamp column as a `Date` (UTC), whichever form the driver returned. */
export function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(toIsoTimestamp(value));
}

/** Same as {@link toIsoTimestamp}, for nullable columns. */
export function toIsoTimestampOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : toIsoTimestamp(value);
}
