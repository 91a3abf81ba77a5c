import { jsonContent, problemResponses } from "@/http/openapi.ts";
import { defineRoute } from "@/http/router.ts";
import { requireAuth } from "@/middleware/authenticate.ts";
import { requireRole } from "@/middleware/permissions.ts";
import { AuditEventPageSchema, ListAuditEventsQuerySchema } from "@/modules/audit/audit.schemas.ts";

/** The OpenAPI tag of the audit trail. */
export const TAG = "Audit";
const tags = [TAG];

export const listAuditEvents = defineRoute({
  method: "get",
  path: "/audit-events",
  tags,
  summary: "List audit events (admin)",
  description: "Privileged changes, newest first: who (user, sign-in method, credential), " +
    "what (action, target, changed fields before and after), when, and from where (request " +
    "id, trace id, client address). Filter by actor, target, action and time; follow " +
    "`next_cursor` to any depth. Events cannot be changed or deleted over HTTP; they are " +
    "kept for AUDIT_RETENTION.",
  middleware: [requireAuth({ scopes: ["audit:read"] }), requireRole("admin")] as const,
  request: { query: ListAuditEventsQuerySchema },
  responses: {
    200: {
      ...jsonContent(AuditEventPageSchema, "One page of audit events"),
      headers: {
        Link: {
          description: 'The next page: `<…&cursor=…>; rel="next"` (RFC 8288); absent on the last',
          schema: { type: "string" },
        },
      },
    },
    ...problemResponses(401, 403, 422, 426),
  },
});
export type ListAuditEventsRoute = typeof listAuditEvents;
