import { z } from "@hono/zod-openapi";
import { idParam } from "@/http/ids.ts";
import { timestamp } from "@/http/openapi.ts";
import { instantSchema } from "@/http/timestamps.ts";

/** A version string: what clients send in `X-Version`, e.g. `1.0` or `2.1.3-beta`. */
const VersionString = z.string().regex(
  /^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$/,
  "Expected 1 to 32 letters, digits, '.', '+' or '-', starting with a letter or digit",
).openapi({ example: "1.1", minLength: 1, maxLength: 32 });

/** An instant with an explicit offset (`2026-06-30T00:00:00Z`), as a Date. */
const Instant = instantSchema();

export const VersionSchema = z.object({
  id: z.number().int().openapi({ example: 9 }),
  version: z.string().openapi({ example: "1.0" }),
  supported: z.boolean().openapi({
    example: true,
    description: "Unsupported versions are answered with 426",
  }),
  deprecated: z.boolean().openapi({
    example: false,
    description: "Deprecated versions still work; responses carry a Deprecation header",
  }),
  deprecated_at: timestamp().nullable().openapi({
    example: null,
    description: "When the version was deprecated (the Deprecation header's date)",
  }),
  sunset_at: timestamp().nullable().openapi({
    example: null,
    description: "When the version stops working; from then on it is answered with 426",
  }),
}).openapi("Version");

export const VersionListSchema = z.array(VersionSchema).openapi("VersionList");

export const CreateVersionSchema = z.strictObject({
  version: VersionString,
  supported: z.boolean().default(true),
  deprecated: z.boolean().default(false),
  sunset_at: Instant.nullable().default(null),
}).openapi("CreateVersion");

export const UpdateVersionSchema = z.strictObject({
  version: VersionString.optional(),
  supported: z.boolean().optional(),
  deprecated: z.boolean().optional(),
  sunset_at: Instant.nullable().optional(),
}).openapi("UpdateVersion");

export const VersionParamsSchema = z.object({
  version_id: idParam("version_id", { in: "path" }),
});
