/**
 * The audit trail: an append-only record of privileged changes. Other modules record their
 * events through {@link AuditLog.record} inside the transaction of the change, so an event
 * exists exactly when its change does; admins read them with `GET /audit-events`. Secrets never
 * reach it: a change lists the fields it names, and password hashes, tokens and keys are not
 * among them.
 *
 * @module
 */
import type { Context } from "hono";
import type { Database, Queryable } from "@/db/database.ts";
import { listScope, readPage, sortSpec } from "@/http/pagination.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { AppEnv } from "@/middleware/app-env.ts";
import * as repository from "@/modules/audit/audit.repository.ts";
import type {
  AuditEvent,
  AuditEventPageSchema,
  ListAuditEventsQuerySchema,
} from "@/modules/audit/audit.schemas.ts";
import { AUDIT_SORTS } from "@/modules/audit/audit.sorts.ts";
import type { z } from "@hono/zod-openapi";

/** Who acted, and from where: from a request ({@link auditActorOf}) or the operator's CLI. */
export interface AuditActor {
  readonly userId: number | null;
  readonly method: AuditEvent["auth_method"];
  /** Which credential, never a secret: `session:<id>`, `api_key:<id>`, `oidc:<iss>#<sub>`. */
  readonly credential: string | null;
  readonly requestId: string | null;
  readonly traceId: string | null;
  readonly ip: string | null;
}

/** One field before and after. */
export type FieldChange = { before: unknown; after: unknown };

/** What happened. */
export interface AuditRecord {
  /** `<target>.<verb>`: `user.created`, `session.revoked`, `version.retired`, ... */
  action: string;
  targetType: string;
  targetId: string | number | null;
  /** Changed fields that are not secret, before and after. */
  changes?: Record<string, FieldChange> | null;
}

/** Where events are written; created once with the app. */
export interface AuditLog {
  /** Append an event within `tx`, the transaction of the change it records. */
  record(tx: Queryable, actor: AuditActor, event: AuditRecord): Promise<void>;
}

/** An audit log and the actor of the change being made: what a service records with. */
export interface AuditContext {
  readonly log: AuditLog;
  readonly actor: AuditActor;
}

/** Record `event` within `tx` when the change has an audit context (every request does). */
export function recordIn(
  tx: Queryable,
  audit: AuditContext | undefined,
  event: AuditRecord,
): Promise<void> {
  return audit ? audit.log.record(tx, audit.actor, event) : Promise.resolve();
}

/** The audit log of the app: writes events with the clock's time and counts them. */
export function createAuditLog(
  deps: Pick<AppDeps, "clock"> & Partial<Pick<AppDeps, "metrics">>,
): AuditLog {
  return {
    async record(tx, actor, event) {
      await repository.insertAuditEvent(tx, {
        occurredAt: deps.clock.now(),
        actor_user_id: actor.userId,
        auth_method: actor.method,
        credential: actor.credential,
        action: event.action,
        target_type: event.targetType,
        target_id: event.targetId === null ? null : String(event.targetId),
        changes: event.changes && Object.keys(event.changes).length > 0 ? event.changes : null,
        request_id: actor.requestId,
        trace_id: actor.traceId,
        client_ip: actor.ip,
      });
      deps.metrics?.auditEvents.inc({ action: event.action });
    },
  };
}

/** The fields of `after` that differ from `before`, among `fields` (never list a secret). */
export function changedFields<T extends object>(
  before: Partial<T>,
  after: T,
  fields: readonly (keyof T & string)[],
): Record<string, FieldChange> {
  const changes: Record<string, FieldChange> = {};
  for (const field of fields) {
    const [was, is] = [before[field] ?? null, after[field] ?? null];
    if (was !== is) changes[field] = { before: was, after: is };
  }
  return changes;
}

/** Key under which OpenTelemetry keeps the active span. */
const OTEL_SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/** The trace of a request: the active span's (OTEL_DENO), else the caller's `traceparent`. */
function traceIdOf(c: Context): string | null {
  const span = Deno.telemetry?.contextManager?.active()?.getValue(OTEL_SPAN_KEY) as
    | { spanContext(): { traceId: string } }
    | undefined;
  const fromSpan = span?.spanContext().traceId;
  if (fromSpan && !/^0+$/.test(fromSpan)) return fromSpan;
  return TRACEPARENT.exec(c.req.header("traceparent") ?? "")?.[1] ?? null;
}

/** The actor of an authenticated request. */
export function auditActorOf<E extends AppEnv>(context: Context<E>): AuditActor {
  const c = context as unknown as Context<AppEnv>;
  const principal = c.get("principal");
  let credential: string | null = null;
  if (principal?.method === "session" && principal.session) {
    credential = `session:${principal.session.id}`;
  } else if (principal?.method === "api_key") {
    credential = `api_key:${principal.credentialId}`;
  } else if (principal?.method === "oidc") {
    credential = principal.provider
      ? `oidc:${principal.provider.issuer}#${principal.provider.subject}`.slice(0, 512)
      : "oidc";
  }
  return {
    userId: principal?.user.id ?? null,
    method: principal?.method ?? "session",
    credential,
    requestId: c.get("requestId") ?? null,
    traceId: traceIdOf(c),
    ip: c.get("clientIp") ?? null,
  };
}

/** The operator at the command line (break glass and the other CLI commands). */
export function cliActor(command: string): AuditActor {
  return {
    userId: null,
    method: "cli",
    credential: command,
    requestId: null,
    traceId: null,
    ip: null,
  };
}

/** A validated list query, and whether it named `page`. */
export type AuditListRequest = z.infer<typeof ListAuditEventsQuerySchema> & { pageGiven: boolean };

/** One page of events, as `GET /audit-events` answers it. */
export type AuditEventPage = z.infer<typeof AuditEventPageSchema>;

/** One page of audit events, newest first unless `sort=id`. */
export async function listAuditEvents(
  deps: { db: Database; config: Pick<AppDeps["config"], "auth" | "database"> },
  request: AuditListRequest,
): Promise<AuditEventPage> {
  const sort = sortSpec(request.sort ?? "-id", AUDIT_SORTS);
  const scope = listScope("audit-events", sort, {
    actor_user_id: request.actor_user_id,
    target_type: request.target_type,
    target_id: request.target_id,
    action: request.action,
    since: request.since?.toISOString(),
    until: request.until?.toISOString(),
  });
  const { rows, ...page } = await readPage({
    secretKey: deps.config.auth.secretKey,
    scope,
    request,
    read: (window) =>
      repository.listAuditEvents(deps.db, {
        actorUserId: request.actor_user_id,
        targetType: request.target_type,
        targetId: request.target_id === undefined ? undefined : String(request.target_id),
        action: request.action,
        since: request.since,
        until: request.until,
        sort,
        window,
        limit: request.limit,
        serverTimeoutMs: deps.config.database.listQueryTimeoutMs,
      }),
  });
  return { ...page, events: rows };
}

/** Delete every event older than the retention (AUDIT_RETENTION), in batches; how many. */
export async function purgeAuditEvents(
  db: Queryable,
  cutoff: Date,
  batchSize = 1000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await repository.deleteAuditEventsBefore(db, cutoff, batchSize);
    total += deleted;
    if (deleted < batchSize) return total;
  }
}
