import { z } from "@hono/zod-openapi";
import { BIG_SERIAL_MAX, idParam } from "@/http/ids.ts";
import { timestamp } from "@/http/openapi.ts";
/** Most scopes one key may name (each module defines a few). */
const SCOPES_MAX = 32;

/** A scope name (`items:read`); the vocabulary itself is checked by the service. */
const ScopeName = z.string().regex(/^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$/, "Expected a scope name")
  .max(64).openapi({ example: "items:read" });

/** Before 9999 and from 1970 on, with an explicit offset; turned into a Date. */
const Instant = z.iso.datetime({ offset: true }).max(64)
  .refine((value) => Date.parse(value) >= 0, "Expected a date from 1970 on")
  .refine(
    (value) => Date.parse(value) < Date.parse("9999-01-01T00:00:00Z"),
    "Expected a date before 9999",
  )
  .transform((value) => new Date(value))
  .openapi({ example: "2027-01-01T00:00:00Z" });

export const CreateApiKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100).openapi({
    example: "nightly export",
    description: "Unique among the owner's keys (case-sensitive)",
  }),
  scopes: z.array(ScopeName).min(1).max(SCOPES_MAX).openapi({
    example: ["items:read"],
    description: "What the key may do, within the owner's role; at least one",
  }),
  expires_at: Instant.optional().openapi({
    description: "When the key stops working (must be in the future); never when omitted",
  }),
}).openapi("CreateApiKeyRequest");

export const ApiKeySchema = z.object({
  id: z.number().int().openapi({ example: 7 }),
  name: z.string().openapi({ example: "nightly export" }),
  prefix: z.string().openapi({
    example: "iak_Qm9zZ3Vl",
    description: "The key's first 12 characters, to tell keys apart; not usable on its own",
  }),
  scopes: z.array(ScopeName).openapi({ example: ["items:read"] }),
  created_at: timestamp(),
  last_used_at: timestamp("2026-01-31T12:30:00.000Z").nullable().openapi({
    description: "Updated at most about once a minute; null until first used",
  }),
  expires_at: timestamp("2027-01-01T00:00:00.000Z").nullable().openapi({
    description: "When the key stops working; null: never",
  }),
}).openapi("ApiKey");

export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().openapi({
    example: "iak_Qm9zZ3VlLXRva2VuLWZvci1kb2NzLW9ubHktMDEyMzQ1Njc",
    description: "The key itself, shown only in this response: send it as `Bearer <key>`",
  }),
}).openapi("CreatedApiKey");
/** A key as its owner sees it (never the key itself). */
export type ApiKey = z.infer<typeof ApiKeySchema>;

export const ListApiKeysQuerySchema = z.object({
  user_id: idParam("user_id", {
    in: "query",
    description: "Admins only: list this user's keys instead of their own",
  }).optional(),
});

export const ApiKeyIdParamsSchema = z.object({
  key_id: idParam("key_id", { in: "path", max: BIG_SERIAL_MAX }),
});
