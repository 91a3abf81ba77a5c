/**
 * Embedded SQLite adapter over `node:sqlite`: WAL, foreign keys on, statements prepared once,
 * transactions serialized so concurrent requests never run inside another's transaction.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  type Database,
  type ExecuteResult,
  ForeignKeyViolationError,
  type LockResult,
  type PoolStats,
  type Queryable,
  type SqlValue,
  UniqueViolationError,
} from "@/db/database.ts";

const SQLITE_CONSTRAINT_FOREIGNKEY = 787;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;
const SQLITE_BUSY = 5;
const BEGIN_RETRY_MS = 5_000;

type Bindable = string | number | bigint | null;

function toParams(params: readonly SqlValue[]): Bindable[] {
  return params.map((p) => {
    if (typeof p === "boolean") return p ? 1 : 0;
    if (p instanceof Date) return p.toISOString();
    return p;
  });
}

function translateError(error: unknown): unknown {
  const e = error as { errcode?: number; message?: string };
  if (e?.errcode === SQLITE_CONSTRAINT_UNIQUE || e?.errcode === SQLITE_CONSTRAINT_PRIMARYKEY) {
    const target = /constraint failed: (.+)$/.exec(e.message ?? "")?.[1] ?? "unknown";
    return new UniqueViolationError(target, { cause: error });
  }
  if (e?.errcode === SQLITE_CONSTRAINT_FOREIGNKEY) {
    return new ForeignKeyViolationError({ cause: error });
  }
  return error;
}

/** The database is locked by another connection (`exec` errors carry no errcode). */
function isBusy(error: unknown): boolean {
  const e = error as { errcode?: number; message?: string };
  return (e?.errcode !== undefined && e.errcode % 256 === SQLITE_BUSY) ||
    /database is locked/.test(e?.message ?? "");
}

/** A promise-chained mutex: one holder at a time, in arrival order. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #held = 0;
  get held(): boolean {
    return this.#held > 0;
  }
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.#tail;
    this.#tail = previous.then(() => next);
    this.#held++;
    await previous;
    return () => {
      this.#held--;
      release();
    };
  }
}

class SqliteDatabase implements Database {
  readonly dialect = "sqlite" as const;
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  #transactions = new Mutex();
  #locks = new Map<string, Mutex>();
  #closed = false;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #query<T>(sql: string, params: readonly SqlValue[]): T[] {
    try {
      return this.#prepare(sql).all(...toParams(params)) as T[];
    } catch (error) {
      throw translateError(error);
    }
  }

  #execute(sql: string, params: readonly SqlValue[]): ExecuteResult {
    try {
      const result = this.#prepare(sql).run(...toParams(params));
      return { insertId: Number(result.lastInsertRowid), affectedRows: Number(result.changes) };
    } catch (error) {
      throw translateError(error);
    }
  }

  /** Outside a transaction, statements wait until no transaction is open on this connection. */
  async #outside<T>(fn: () => T): Promise<T> {
    if (!this.#transactions.held) return fn();
    const release = await this.#transactions.lock();
    try {
      return fn();
    } finally {
      release();
    }
  }

  query<T = Record<string, unknown>>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.#outside(() => this.#query<T>(sql, params));
  }

  execute(sql: string, params: readonly SqlValue[] = []): Promise<ExecuteResult> {
    return this.#outside(() => this.#execute(sql, params));
  }

  async #begin(): Promise<void> {
    // Another connection (process) may hold the write lock: retry without blocking the loop.
    const deadline = Date.now() + BEGIN_RETRY_MS;
    this.#db.exec("PRAGMA busy_timeout = 0");
    try {
      for (;;) {
        try {
          this.#db.exec("BEGIN IMMEDIATE");
          return;
        } catch (error) {
          if (!isBusy(error) || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    } finally {
      this.#db.exec("PRAGMA busy_timeout = 5000");
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const release = await this.#transactions.lock();
    try {
      await this.#begin();
      const tx: Queryable = {
        query: <R>(sql: string, params: readonly SqlValue[] = []) =>
          Promise.resolve(this.#query<R>(sql, params)),
        execute: (sql: string, params: readonly SqlValue[] = []) =>
          Promise.resolve(this.#execute(sql, params)),
      };
      try {
        const value = await fn(tx);
        this.#db.exec("COMMIT");
        return value;
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        throw error;
      }
    } finally {
      release();
    }
  }

  async withLock<T>(
    name: string,
    waitSeconds: number,
    fn: () => Promise<T>,
  ): Promise<LockResult<T>> {
    // One process owns an embedded database, so an in-process lock is enough.
    let mutex = this.#locks.get(name);
    if (!mutex) this.#locks.set(name, mutex = new Mutex());
    if (waitSeconds === 0 && mutex.held) return { acquired: false };
    const release = await mutex.lock();
    try {
      return { acquired: true, value: await fn() };
    } finally {
      release();
    }
  }

  ping(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("Database is closed"));
    return this.query("SELECT 1").then(() => {});
  }

  withBudget(): Database {
    return this;
  }

  stats(): PoolStats {
    return {
      inUse: this.#transactions.held ? 1 : 0,
      idle: this.#transactions.held ? 0 : 1,
      waiting: 0,
    };
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#statements.clear();
      this.#db.close();
    }
    return Promise.resolve();
  }
}

/** Open an SQLite database: `path` is a file (its folder is created) or `:memory:`. */
export function openSqlite(path: string): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA busy_timeout = 5000");
  return new SqliteDatabase(db);
}
