import { z } from "@hono/zod-openapi";
import { defineRoute } from "@/http/router.ts";
import { jsonContent, problemResponses } from "@/http/openapi.ts";

const HealthSchema = z.object({
  status: z.literal("ok").openapi({ example: "ok" }),
}).openapi("Health");

/** The OpenAPI tag of both probes. */
export const TAG = "Health";
const tags = [TAG];

export const livez = defineRoute({
  method: "get",
  path: "/livez",
  security: [], // public
  tags,
  summary: "Liveness: the process answers",
  description: "Never touches the database; a failure means the process should be restarted.",
  responses: { 200: jsonContent(HealthSchema, "The process is alive") },
});
export type LivezRoute = typeof livez;

export const readyz = defineRoute({
  method: "get",
  path: "/readyz",
  security: [], // public
  tags,
  summary: "Readiness: the service can take traffic",
  description:
    "Pings the database with a short timeout; 503 while shutting down or when the database does not answer.",
  responses: {
    200: jsonContent(HealthSchema, "Ready to take traffic"),
    ...problemResponses(503),
  },
});
export type ReadyzRoute = typeof readyz;
