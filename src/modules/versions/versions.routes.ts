import {
  ETAG_HEADER,
  IF_MATCH_PARAMETER,
  IF_NONE_MATCH_PARAMETER,
  jsonContent,
  NOT_MODIFIED_RESPONSE,
  problemResponses,
} from "@/http/openapi.ts";
import { defineRoute } from "@/http/router.ts";
import { requireAuth } from "@/middleware/authenticate.ts";
import { idempotent } from "@/middleware/idempotency.ts";
import { requireRole } from "@/middleware/permissions.ts";
import {
  CreateVersionSchema,
  UpdateVersionSchema,
  VersionListSchema,
  VersionParamsSchema,
  VersionSchema,
} from "@/modules/versions/versions.schemas.ts";

/** The OpenAPI tag of every versions operation. */
export const TAG = "Versions";
const tags = [TAG];

export const listVersions = defineRoute({
  method: "get",
  path: "/versions",
  security: [], // public
  tags,
  summary: "List client versions",
  description:
    "Public and never version-gated, so a refused client can find out what to upgrade to. " +
    "Answers from this instance's in-memory copy of the table (what its gate enforces).",
  responses: {
    200: jsonContent(VersionListSchema, "Every client version, oldest first"),
  },
});
export type ListVersionsRoute = typeof listVersions;

export const getVersion = defineRoute({
  method: "get",
  path: "/versions/{version_id}",
  security: [], // public
  tags,
  summary: "Get a client version",
  description: "Public and never version-gated, like the list. Carries an `ETag`; with " +
    "`If-None-Match` naming it, 304.",
  parameters: [IF_NONE_MATCH_PARAMETER],
  request: { params: VersionParamsSchema },
  responses: {
    200: { ...jsonContent(VersionSchema, "The client version"), headers: ETAG_HEADER },
    304: NOT_MODIFIED_RESPONSE,
    ...problemResponses(404, 422),
  },
});
export type GetVersionRoute = typeof getVersion;

export const createVersion = defineRoute({
  method: "post",
  path: "/versions",
  tags,
  summary: "Register a client version (admin)",
  description:
    "Takes effect on this instance at once and on every other within VERSION_REFRESH_INTERVAL.",
  middleware: [
    requireAuth({ scopes: ["versions:write"] }),
    requireRole("admin"),
    idempotent(),
  ] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateVersionSchema } } },
  },
  responses: {
    201: { ...jsonContent(VersionSchema, "The new client version"), headers: ETAG_HEADER },
    ...problemResponses(400, 401, 403, 409, 413, 415, 422),
  },
});
export type CreateVersionRoute = typeof createVersion;

export const updateVersion = defineRoute({
  method: "patch",
  path: "/versions/{version_id}",
  tags,
  summary: "Change a client version (admin): deprecate, set a sunset, retire",
  description:
    "`supported: false` retires a client (426 from then on); `deprecated: true` adds the " +
    "Deprecation header (dated now); `sunset_at` adds the Sunset header and retires the version " +
    "when that time comes. Takes effect on this instance at once and on every other within " +
    "VERSION_REFRESH_INTERVAL. With `If-Match`, only the representation it names is changed " +
    "(412 otherwise).",
  middleware: [requireAuth({ scopes: ["versions:write"] }), requireRole("admin")] as const,
  parameters: [IF_MATCH_PARAMETER],
  request: {
    params: VersionParamsSchema,
    body: { required: true, content: { "application/json": { schema: UpdateVersionSchema } } },
  },
  responses: {
    200: { ...jsonContent(VersionSchema, "The changed client version"), headers: ETAG_HEADER },
    ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428),
  },
});
export type UpdateVersionRoute = typeof updateVersion;
