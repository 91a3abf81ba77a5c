import { z } from "@hono/zod-openapi";
import { BIG_SERIAL_MAX, idParam } from "@/http/ids.ts";
import { timestamp } from "@/http/openapi.ts";
import { PageQuerySchema, pageSchema, sortParam } from "@/http/pagination.ts";
import { AUDIT_SORTS } from "@/modules/audit/audit.sorts.ts";

/** How the actor of an event authenticated: a credential kind, or the operator's CLI. */
export const AUDIT_AUTH_METHODS = ["session", "api_key", "oidc", "refresh_token", "cli"] as const;

/** One field's value before and after a change (never a secret). */
const Change = z.object({ before: z.unknown(), after: z.unknown() });

export const AuditEventSchema = z.object({
  id: z.number().int().openapi({ example: 42 }),
  occurred_at: timestamp(),
  actor_user_id: z.number().int().nullable().openapi({
    example: 1,
    description: "The user who acted; null for the CLI",
  }),
  auth_method: z.enum(AUDIT_AUTH_METHODS).openapi({ example: "session" }),
  credential: z.string().nullable().openapi({
    example: "session:17",
    description: "Which credential: `session:<id>`, `api_key:<id>`, `oidc:<issuer>#<subject>`, " +
      "or the CLI command; never a secret",
  }),
  action: z.string().openapi({ example: "user.demoted" }),
  target_type: z.string().openapi({ example: "user" }),
  target_id: z.string().nullable().openapi({ example: "7" }),
  changes: z.record(z.string(), Change).nullable().openapi({
    example: { role_id: { before: 1, after: 2 } },
    description: "The changed fields, before and after; secrets are never recorded",
  }),
  request_id: z.string().nullable().openapi({ example: "5f0c6f0e-6a43-4a3a-9d5e-3c1f1e0b6a1d" }),
  trace_id: z.string().nullable().openapi({ example: "4bf92f3577b34da6a3ce929d0e0e4736" }),
  client_ip: z.string().nullable().openapi({ example: "203.0.113.9" }),
}).openapi("AuditEvent");
/** An audit event, in the one shape the repository returns and the API answers. */
export type AuditEvent = z.infer<typeof AuditEventSchema>;

const Instant = z.iso.datetime({ offset: true }).min(1).max(64)
  .transform((value) => new Date(value));

export const ListAuditEventsQuerySchema = PageQuerySchema.extend({
  actor_user_id: idParam("actor_user_id", { in: "query", description: "Only this actor's" })
    .optional(),
  target_type: z.string().min(1).max(32).regex(/^[a-z_]+$/).optional().openapi({
    param: { name: "target_type", in: "query" },
    description: "Only events about this kind of target (`user`, `session`, `api_key`, `version`)",
  }),
  target_id: idParam("target_id", {
    in: "query",
    max: BIG_SERIAL_MAX,
    description: "Only events about this target (with target_type)",
  }).optional(),
  action: z.string().min(3).max(65).regex(/^[a-z_]+\.[a-z_-]+$/).optional().openapi({
    param: { name: "action", in: "query" },
    description: "Only this action, e.g. `user.deactivated`",
  }),
  since: Instant.optional().openapi({
    param: { name: "since", in: "query" },
    description: "Only events at or after this time (ISO 8601 with an offset)",
  }),
  until: Instant.optional().openapi({
    param: { name: "until", in: "query" },
    description: "Only events before this time",
  }),
  sort: sortParam(AUDIT_SORTS),
});

export const AuditEventPageSchema = pageSchema("events", AuditEventSchema, "AuditEventPage");
