import { z } from "@hono/zod-openapi";
import { jsonContent, problemResponses } from "@/http/openapi.ts";
import { defineRoute } from "@/http/router.ts";
import { requireAuth } from "@/middleware/authenticate.ts";
import { idempotent } from "@/middleware/idempotency.ts";
import {
  ApiKeyIdParamsSchema,
  ApiKeySchema,
  CreateApiKeySchema,
  CreatedApiKeySchema,
  ListApiKeysQuerySchema,
} from "@/modules/api-keys/api-keys.schemas.ts";

/** The OpenAPI tag of every API-key operation. */
export const TAG = "API keys";
const tags = [TAG];

/** Keys are managed from a session only: a key (or a provider token) cannot mint or revoke keys. */
const sessionOnly = requireAuth({ methods: ["session"] });

export const createApiKey = defineRoute({
  method: "post",
  path: "/auth/api-keys",
  tags,
  summary: "Create an API key for a machine client",
  description:
    "Needs a session token. The key (`iak_` + 43 base64url characters) is in this response " +
    "only; the service keeps its SHA-256 digest. It acts as its owner, narrowed to `scopes`. " +
    "A user holds at most API_KEYS_MAX_PER_USER keys (409 beyond it).",
  middleware: [sessionOnly, idempotent()] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateApiKeySchema } } },
  },
  responses: {
    201: jsonContent(CreatedApiKeySchema, "The new key, shown once"),
    ...problemResponses(400, 401, 403, 409, 413, 415, 422),
  },
});
export type CreateApiKeyRoute = typeof createApiKey;

export const listApiKeys = defineRoute({
  method: "get",
  path: "/auth/api-keys",
  tags,
  summary: "The caller's API keys (an admin: any user's)",
  description:
    "Oldest first; never contains the keys. Admins pass `user_id` to see another user's keys.",
  middleware: [sessionOnly] as const,
  request: { query: ListApiKeysQuerySchema },
  responses: {
    200: jsonContent(z.array(ApiKeySchema), "The keys"),
    ...problemResponses(401, 403, 404, 422),
  },
});
export type ListApiKeysRoute = typeof listApiKeys;

export const revokeApiKey = defineRoute({
  method: "delete",
  path: "/auth/api-keys/{key_id}",
  tags,
  summary: "Revoke an API key",
  description:
    "The key stops working at once. Another user's key is reported as not found, except to admins.",
  middleware: [sessionOnly] as const,
  request: { params: ApiKeyIdParamsSchema },
  responses: {
    204: { description: "Revoked" },
    ...problemResponses(401, 403, 404, 422),
  },
});
export type RevokeApiKeyRoute = typeof revokeApiKey;
