/**
 * All SQL about audit events: one INSERT per event (inside the transaction of the change it
 * records), the admins' list, and the retention purge. Nothing here updates an event.
 *
 * @module
 */
import { type Database, type Queryable, type SqlValue, toIsoTimestamp } from "@/db/database.ts";
import { type Condition, type ListPage, listPage } from "@/db/lists.repository.ts";
import type { ListWindow, SortSpec } from "@/http/pagination.ts";
import type { AuditEvent } from "@/modules/audit/audit.schemas.ts";
import type { AuditSortField } from "@/modules/audit/audit.sorts.ts";

/** What an insert writes. */
export type AuditEventInsert = Omit<AuditEvent, "id" | "occurred_at"> & { occurredAt: Date };

interface Row {
  id: number;
  occurred_at: unknown;
  actor_user_id: number | null;
  auth_method: AuditEvent["auth_method"];
  credential: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  changes: string | null;
  request_id: string | null;
  trace_id: string | null;
  client_ip: string | null;
}

const COLUMNS = "audit_events.id, audit_events.occurred_at, audit_events.actor_user_id, " +
  "audit_events.auth_method, audit_events.credential, audit_events.action, " +
  "audit_events.target_type, audit_events.target_id, audit_events.changes, " +
  "audit_events.request_id, audit_events.trace_id, audit_events.client_ip";

function toEvent(row: Row): AuditEvent {
  return {
    id: Number(row.id),
    occurred_at: toIsoTimestamp(row.occurred_at),
    actor_user_id: row.actor_user_id === null ? null : Number(row.actor_user_id),
    auth_method: row.auth_method,
    credential: row.credential,
    action: row.action,
    target_type: row.target_type,
    target_id: row.target_id,
    changes: row.changes === null ? null : JSON.parse(row.changes),
    request_id: row.request_id,
    trace_id: row.trace_id,
    client_ip: row.client_ip,
  };
}

/** Append one event. */
export async function insertAuditEvent(db: Queryable, event: AuditEventInsert): Promise<void> {
  await db.execute(
    "INSERT INTO audit_events (occurred_at, actor_user_id, auth_method, credential, action, " +
      "target_type, target_id, changes, request_id, trace_id, client_ip) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [
      event.occurredAt,
      event.actor_user_id,
      event.auth_method,
      event.credential,
      event.action,
      event.target_type,
      event.target_id,
      event.changes === null ? null : JSON.stringify(event.changes),
      event.request_id,
      event.trace_id,
      event.client_ip,
    ],
  );
}

/** Filters, order and page of {@link listAuditEvents}. */
export interface AuditEventQuery {
  actorUserId?: number | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  action?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  sort: SortSpec<AuditSortField>;
  window: ListWindow;
  limit: number;
  serverTimeoutMs: number;
}

/** One page of events matching the filters, in id order (newest first by default). */
export async function listAuditEvents(
  db: Database,
  query: AuditEventQuery,
): Promise<ListPage<AuditEvent>> {
  const filters: Condition[] = [];
  const when: Condition[] = [];
  let mysqlIndex = "PRIMARY";
  if (query.actorUserId !== undefined) {
    filters.push({ sql: "audit_events.actor_user_id = ?", params: [query.actorUserId] });
    mysqlIndex = "audit_events_actor_id_idx";
  } else if (query.targetType !== undefined) {
    const params: SqlValue[] = [query.targetType];
    let sql = "audit_events.target_type = ?";
    if (query.targetId !== undefined) {
      sql += " AND audit_events.target_id = ?";
      params.push(query.targetId);
    }
    filters.push({ sql, params });
    mysqlIndex = "audit_events_target_id_idx";
  } else if (query.action !== undefined) {
    filters.push({ sql: "audit_events.action = ?", params: [query.action] });
    mysqlIndex = "audit_events_action_id_idx";
  }
  // Filters no index of the chosen order serves are bounded like substrings.
  if (query.actorUserId !== undefined && query.targetType !== undefined) {
    when.push({ sql: "audit_events.target_type = ?", params: [query.targetType] });
    if (query.targetId !== undefined) {
      when.push({ sql: "audit_events.target_id = ?", params: [query.targetId] });
    }
  }
  if (query.action !== undefined && (query.actorUserId ?? query.targetType) !== undefined) {
    when.push({ sql: "audit_events.action = ?", params: [query.action] });
  }
  if (query.since) when.push({ sql: "audit_events.occurred_at >= ?", params: [query.since] });
  if (query.until) when.push({ sql: "audit_events.occurred_at < ?", params: [query.until] });
  const page = await listPage<Row>(db, {
    table: "audit_events",
    mysqlIndex,
    columns: COLUMNS,
    sort: query.sort,
    filters,
    substrings: when,
    window: query.window,
    limit: query.limit,
    serverTimeoutMs: query.serverTimeoutMs,
    positionOf: (row) => [Number(row.id)],
    narrowHint: "add actor_user_id, target_type or action, or a narrower since/until",
  });
  return { ...page, rows: page.rows.map(toEvent) };
}

/** Delete up to `batchSize` events that occurred before `cutoff`; how many. */
export async function deleteAuditEventsBefore(
  db: Queryable,
  cutoff: Date,
  batchSize: number,
): Promise<number> {
  const rows = await db.query<{ id: number }>(
    "SELECT id FROM audit_events WHERE occurred_at < ? ORDER BY occurred_at LIMIT ?",
    [cutoff, batchSize],
  );
  if (rows.length === 0) return 0;
  const ids = rows.map((row) => Number(row.id));
  const { affectedRows } = await db.execute(
    `DELETE FROM audit_events WHERE id IN (${ids.map(() => "?").join(", ")})`,
    ids,
  );
  return affectedRows;
}
