/**
 * The expired-session purge: deletes sessions whose refresh token has expired, in small
 * batches so it never holds long locks. `main.ts` schedules it with `Deno.cron` on
 * `TOKEN_PURGE_CRON`; the CLI's `purge-tokens` command runs it once. With several instances on
 * one MySQL database only one runs a given purge (a `GET_LOCK` named
 * {@link TOKEN_PURGE_LOCK}); the others log and count a skipped run.
 *
 * @module
 */
import { ConfigError } from "@/config.ts";
import type { Database, Queryable } from "@/db/database.ts";
import type { Clock } from "@/runtime/clock.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import type { Metrics } from "@/runtime/metrics.ts";
import { deleteExpiredIdempotencyKeys } from "@/db/idempotency.repository.ts";
import { deleteExpiredSessionsBatch } from "@/modules/auth/sessions.repository.ts";
import { purgeAuditEvents } from "@/modules/audit/audit.service.ts";

/** Name of the database lock that keeps two instances from purging at once. */
export const TOKEN_PURGE_LOCK = "items_api_purge_tokens";

/** Name of the `Deno.cron` job. */
export const TOKEN_PURGE_CRON_NAME = "purge-expired-tokens";

/** Options of {@link purgeExpiredSessions}. */
export interface PurgeOptions {
  /** Sessions deleted per statement (default 1000). */
  batchSize?: number;
  /** Called after each batch that deleted rows, with their number; awaited before the next. */
  onBatch?: (deleted: number) => void | Promise<void>;
  /** Stop between batches once aborted (graceful shutdown). */
  signal?: AbortSignal;
}

/** Give timers and I/O a turn between batches (SQLite statements run on the event loop). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Delete every session whose refresh token expired at or before `clock.now()`, `batchSize`
 * rows per short statement; returns how many were deleted.
 *
 * @example
 * ```ts
 * import { migrate } from "@/db/migrate.ts";
 * import { openDatabase } from "@/db/open.ts";
 * import { systemClock } from "@/runtime/clock.ts";
 *
 * const db = await openDatabase({
 *   url: "sqlite::memory:",
 *   poolSize: 1,
 *   queueLimit: 0,
 *   queryTimeoutMs: 5000,
 *   listQueryTimeoutMs: 5000,
 * });
 * try {
 *   await migrate(db);
 *   const deleted = await purgeExpiredSessions(db, systemClock, { batchSize: 500 }); // 0
 * } finally {
 *   await db.close();
 * }
 * ```
 */
export async function purgeExpiredSessions(
  db: Queryable,
  clock: Clock,
  { batchSize = 1000, onBatch, signal }: PurgeOptions = {},
): Promise<number> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Cannot use batch size ${batchSize}: expected a positive whole number`);
  }
  // One cut-off for the whole run: sessions expiring while it runs wait for the next one.
  const cutoff = clock.now();
  let total = 0;
  for (;;) {
    const { found, deleted } = await deleteExpiredSessionsBatch(db, cutoff, batchSize);
    total += deleted;
    if (deleted > 0) await onBatch?.(deleted);
    if (found < batchSize || signal?.aborted) return total;
    await yieldToEventLoop();
  }
}

/**
 * Delete every idempotency key that expired by now (IDEMPOTENCY_TTL), in batches; how many.
 */
export async function purgeExpiredIdempotencyKeys(
  db: Queryable,
  clock: Clock,
  { batchSize = 1000, signal }: PurgeOptions = {},
): Promise<number> {
  const cutoff = clock.now();
  let total = 0;
  for (;;) {
    const deleted = await deleteExpiredIdempotencyKeys(db, cutoff, batchSize);
    total += deleted;
    if (deleted < batchSize || signal?.aborted) return total;
    await yieldToEventLoop();
  }
}

/** What {@link runTokenPurge} needs. */
export interface TokenPurgeDeps {
  db: Database;
  clock: Clock;
  /** Counts runs and deleted rows when given. */
  metrics?: Metrics;
  /** Audit events older than this are deleted too (AUDIT_RETENTION); kept forever when unset. */
  auditRetentionMs?: number;
}

/** Outcome of {@link runTokenPurge}. */
export type TokenPurgeResult =
  | { ran: true; deleted: number }
  | { ran: false; reason: "locked" };

/**
 * Run one purge under the cross-instance lock, log its count and record it in the metrics.
 * Used by the cron job and by the CLI's one-shot `purge-tokens` command.
 *
 * @throws whatever the database threw (after logging it and counting a failed run)
 */
export async function runTokenPurge(
  deps: TokenPurgeDeps,
  options: PurgeOptions = {},
): Promise<TokenPurgeResult> {
  const log = getAppLogger("cron", "purge-tokens");
  const { db, clock, metrics } = deps;
  const started = performance.now();
  let deleted = 0;
  try {
    const locked = await db.withLock(TOKEN_PURGE_LOCK, 0, async () => {
      const sessions = await purgeExpiredSessions(db, clock, {
        ...options,
        onBatch: (n) => {
          deleted += n;
          metrics?.tokenPurgeDeletedSessions.inc(n);
          return options.onBatch?.(n);
        },
      });
      const keys = await purgeExpiredIdempotencyKeys(db, clock, options);
      if (keys > 0) log.info("Purge deleted {keys} expired idempotency key(s)", { keys });
      if (deps.auditRetentionMs !== undefined) {
        const cutoff = new Date(clock.now().getTime() - deps.auditRetentionMs);
        const events = await purgeAuditEvents(db, cutoff, options.batchSize);
        if (events > 0) {
          log.info("Purge deleted {events} audit event(s) older than the retention", { events });
        }
      }
      return sessions;
    });
    if (!locked.acquired) {
      log.info("Token purge skipped: another instance holds the {lock} lock", {
        lock: TOKEN_PURGE_LOCK,
      });
      metrics?.recordTokenPurge("skipped", clock.now());
      return { ran: false, reason: "locked" };
    }
    log.info("Token purge deleted {deleted} expired session(s) in {duration_ms} ms", {
      deleted: locked.value,
      duration_ms: Math.round(performance.now() - started),
    });
    metrics?.recordTokenPurge("completed", clock.now());
    return { ran: true, deleted: locked.value };
  } catch (error) {
    log.error("Token purge failed after deleting {deleted} session(s): {error}", {
      deleted,
      error,
    });
    metrics?.recordTokenPurge("failed", clock.now());
    throw error;
  }
}

/** A scheduled purge; `stop()` unregisters it and waits for a run in progress. */
export interface ScheduledTokenPurge {
  stop(): Promise<void>;
}

/**
 * Register the purge with `Deno.cron` (UTC schedule). Runs never overlap in one process, and
 * a failed run is logged and counted, never thrown into the cron runtime.
 *
 * @throws {ConfigError} when `Deno.cron` rejects the schedule (`TOKEN_PURGE_CRON`)
 * @throws {Error} when `Deno.cron` is unavailable (run without `--unstable-cron`)
 */
export function scheduleTokenPurge(deps: TokenPurgeDeps, schedule: string): ScheduledTokenPurge {
  if (typeof Deno.cron !== "function") {
    throw new Error(
      'Deno.cron is unavailable: run with --unstable-cron (deno.json sets "unstable": ["cron"])',
    );
  }
  const abort = new AbortController();
  let running: Promise<unknown> | undefined;
  const runScheduled = async () => {
    if (running) return;
    running = runTokenPurge(deps, { signal: abort.signal }).catch(() => {
      // Logged and counted by runTokenPurge; the next scheduled run tries again.
    });
    try {
      await running;
    } finally {
      running = undefined;
    }
  };
  let registered: Promise<void>;
  try {
    registered = Deno.cron(TOKEN_PURGE_CRON_NAME, schedule, { signal: abort.signal }, runScheduled);
  } catch (error) {
    throw new ConfigError([
      `TOKEN_PURGE_CRON: Cannot use "${schedule}": ${(error as Error).message}`,
    ]);
  }
  registered.catch((error) => {
    getAppLogger("cron", "purge-tokens").error("Token purge job failed: {error}", { error });
  });
  return {
    async stop() {
      abort.abort();
      await running;
    },
  };
}
