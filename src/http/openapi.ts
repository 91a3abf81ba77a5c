/**
 * Shared OpenAPI pieces: the problem+json schema and response entries for error statuses, so
 * every route declares exactly the statuses it can answer with one line.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { PROBLEM_CONTENT_TYPE, statusTitle } from "@/http/errors.ts";

/** Name of the bearer security scheme in the OpenAPI document. */
export const BEARER_SCHEME_NAME = "bearerAuth";

/** Name of the OAuth 2 password-flow scheme the docs pages log in with. */
export const OAUTH2_SCHEME_NAME = "oauth2Password";

/**
 * The OAuth 2 password flow on `POST /auth/token`, so Swagger's "Authorize" and Scalar's auth
 * panel take a username and password (form `grant_type=password`) and send the token they get
 * as a bearer token; `refreshUrl` is the same endpoint, which takes the refresh grant (form
 * `grant_type=refresh_token`, RFC 6749 section 6), so Scalar's Refresh button works. Declares
 * every scope of the vocabulary.
 */
export function oauth2PasswordScheme(scopes: Readonly<Record<string, string>>) {
  return {
    type: "oauth2",
    description:
      "Log in with a username and password (OAuth 2 password grant on `POST /auth/token`); the " +
      "access token is then sent as `Authorization: Bearer <token>`. Access tokens live " +
      "ACCESS_TOKEN_TTL (2 h by default); renew them with the refresh token on the same URL " +
      "(`grant_type=refresh_token`, what the Refresh button sends) or `POST /auth/refresh`. " +
      "Each refresh rotates both tokens. A session token carries every scope of its user's role.",
    flows: {
      password: { tokenUrl: "/auth/token", refreshUrl: "/auth/token", scopes: { ...scopes } },
    },
  } as const;
}

/**
 * The `security` of a route that needs these scopes: one requirement per scheme that can
 * carry them (OpenAPI 3.1 allows scope names for any scheme type).
 */
export function securityRequirement(
  scopes: readonly string[],
): Array<Record<string, string[]>> {
  return [{ [BEARER_SCHEME_NAME]: [...scopes] }, { [OAUTH2_SCHEME_NAME]: [...scopes] }];
}

/** RFC 9457 problem details, as every error response carries them. */
export const ProblemSchema = z.object({
  type: z.string().openapi({ example: "https://items-api.dev/problems/not-found" }),
  title: z.string().openapi({ example: "Not Found" }),
  status: z.number().int().openapi({ example: 404 }),
  detail: z.string().openapi({ example: "Item not found" }),
  code: z.string().openapi({ example: "not_found" }),
  request_id: z.string().openapi({ example: "5f0c6f0e-6a43-4a3a-9d5e-3c1f1e0b6a1d" }),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional().openapi({
    example: [{ path: "body.name", message: "Too small: expected string to have >=1 characters" }],
  }),
}).openapi("Problem");

/** 426: the problem plus what a client needs to upgrade (see the version gate). */
export const VersionProblemSchema = ProblemSchema.extend({
  latest_version: z.string().nullable().openapi({
    example: "1.0",
    description: "The newest supported, non-deprecated version (null when none is)",
  }),
  supported_versions: z.array(z.string()).openapi({
    example: ["1.0"],
    description: "Every version that is accepted today",
  }),
}).openapi("VersionProblem");

/** 429: the problem plus the wait, also sent as `Retry-After`. */
export const RateLimitProblemSchema = ProblemSchema.extend({
  retry_after: z.number().int().min(0).max(86_400).openapi({
    example: 42,
    description: "Seconds until a retry can succeed, as in the Retry-After header",
  }),
}).openapi("RateLimitProblem");

/** 413: the problem plus the body limit that was exceeded. */
export const ContentTooLargeProblemSchema = ProblemSchema.extend({
  limit_bytes: z.number().int().min(0).openapi({
    example: 1_048_576,
    description: "The largest request body accepted, in bytes",
  }),
}).openapi("ContentTooLargeProblem");

/** The problem schema of a status: the extended ones for 413, 426 and 429. */
export const PROBLEM_SCHEMAS = {
  413: ContentTooLargeProblemSchema,
  426: VersionProblemSchema,
  429: RateLimitProblemSchema,
} as const;

/** Component names of {@link PROBLEM_SCHEMAS}, for references added after generation. */
export const PROBLEM_SCHEMA_NAMES: Readonly<Record<number, string>> = {
  413: "ContentTooLargeProblem",
  426: "VersionProblem",
  429: "RateLimitProblem",
};

/** Error statuses a route may declare. */
export type ErrorStatus =
  | 400
  | 401
  | 403
  | 404
  | 405
  | 409
  | 412
  | 413
  | 415
  | 422
  | 426
  | 428
  | 429
  | 500
  | 503;

const DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: "Malformed request body",
  401: "Missing, invalid or expired credentials",
  403: "Not allowed for this caller",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflicts with existing data",
  412: "The resource changed since the ETag in If-Match was read",
  413: "Request body too large",
  415: "Unsupported media type",
  422: "Validation failed",
  426: "Client version not supported anymore",
  428: "If-Match is required for this write (REQUIRE_IF_MATCH)",
  429: "Too many requests",
  500: "Unexpected server error",
  503: "Service temporarily unavailable",
};

const REQUEST_ID_EXAMPLE = "5f0c6f0e-6a43-4a3a-9d5e-3c1f1e0b6a1d";

function problemExample(
  status: ErrorStatus,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    type: `https://items-api.dev/problems/${code.replaceAll("_", "-")}`,
    title: statusTitle(status),
    status,
    detail,
    code,
    request_id: REQUEST_ID_EXAMPLE,
    ...extra,
  };
}

/** One realistic body per error status, shown by the docs next to that status. */
export const PROBLEM_EXAMPLES: Readonly<Record<ErrorStatus, Record<string, unknown>>> = {
  400: problemExample(400, "malformed_body", "Malformed JSON in request body"),
  401: problemExample(401, "unauthorized", "Invalid or expired access token"),
  403: problemExample(403, "forbidden", "Not enough permissions"),
  404: problemExample(404, "not_found", "Not found"),
  405: problemExample(405, "method_not_allowed", "Method PUT is not allowed here; use GET"),
  409: problemExample(409, "conflict", "Conflicts with existing data"),
  412: problemExample(
    412,
    "precondition_failed",
    "The resource changed since it was read; read it again and retry",
  ),
  413: problemExample(413, "content_too_large", "Request body is larger than 1048576 bytes", {
    limit_bytes: 1_048_576,
  }),
  415: problemExample(415, "unsupported_media_type", "Expected a body of type application/json"),
  422: problemExample(422, "validation_failed", "Request validation failed", {
    errors: [{ path: "body.name", message: "Expected 1 to 255 characters" }],
  }),
  426: problemExample(426, "version_not_supported", "Version not supported anymore", {
    latest_version: "1.0",
    supported_versions: ["1.0"],
  }),
  428: problemExample(
    428,
    "precondition_required",
    "Send If-Match with the ETag of the representation you change (REQUIRE_IF_MATCH)",
  ),
  429: problemExample(429, "rate_limited", "Too many requests; retry in 42 s", {
    retry_after: 42,
  }),
  500: problemExample(
    500,
    "internal_error",
    "An unexpected error occurred; quote the request id when reporting it",
  ),
  503: problemExample(503, "service_unavailable", "Database unavailable"),
};

type ProblemSchemaOf<S extends ErrorStatus> = S extends keyof typeof PROBLEM_SCHEMAS
  ? (typeof PROBLEM_SCHEMAS)[S]
  : typeof ProblemSchema;

type ProblemResponse<S extends ErrorStatus> = {
  description: string;
  content: {
    [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchemaOf<S>; example: Record<string, unknown> };
  };
};

/** The description of an error status's response entry. */
export function problemDescription(status: ErrorStatus): string {
  return `${statusTitle(status)}: ${DESCRIPTIONS[status]}`;
}

/**
 * Response entries for the given error statuses, for a route's `responses`: each with the
 * problem schema of its status (413, 426 and 429 carry extra members) and its own example.
 *
 * @example
 * ```ts
 * import { z } from "@hono/zod-openapi";
 * import { jsonContent, problemResponses } from "@/http/openapi.ts";
 * import { defineRoute } from "@/http/router.ts";
 *
 * const getThing = defineRoute({
 *   method: "get",
 *   path: "/things/{thing_id}",
 *   responses: {
 *     200: jsonContent(z.object({ id: z.number() }), "The thing"),
 *     ...problemResponses(401, 404, 422),
 *   },
 * });
 * ```
 */
export function problemResponses<const S extends ErrorStatus>(
  ...statuses: S[]
): { [K in S]: ProblemResponse<K> } {
  const out: Record<number, unknown> = {};
  for (const status of statuses) {
    const schema = (PROBLEM_SCHEMAS as Record<number, z.ZodType>)[status] ?? ProblemSchema;
    out[status] = {
      description: problemDescription(status),
      content: { [PROBLEM_CONTENT_TYPE]: { schema, example: PROBLEM_EXAMPLES[status] } },
    };
  }
  return out as { [K in S]: ProblemResponse<K> };
}

/** An instant as the API writes it: ISO 8601 in UTC with `Z`. */
export function timestamp(example = "2026-01-31T12:00:00.000Z") {
  return z.string().openapi({ format: "date-time", example });
}

/** A JSON response entry for a route's `responses`. */
export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** The `ETag` response header of a representation (see `@/http/etag.ts`). */
export const ETAG_HEADER = {
  ETag: {
    description: "The strong entity tag of this representation; send it in If-Match to change it",
    schema: { type: "string" as const },
  },
};

/** The 304 of a read whose `If-None-Match` names the current representation. */
export const NOT_MODIFIED_RESPONSE = {
  description: "Not Modified: If-None-Match names the current representation",
  headers: ETAG_HEADER,
};

/**
 * The optional `If-None-Match` header of a read, as a documented parameter only: declared in
 * `request.headers`, it would become a required `header` argument of every typed-client call.
 */
export const IF_NONE_MATCH_PARAMETER = {
  name: "If-None-Match",
  in: "header" as const,
  required: false,
  description: "ETags the client holds: 304 when one is current",
  schema: { type: "string" as const, maxLength: 1024 },
};

/** The `If-Match` header of a write (required when REQUIRE_IF_MATCH is set: 428 without it). */
export const IF_MATCH_PARAMETER = {
  name: "If-Match",
  in: "header" as const,
  required: false,
  description: "The ETag of the representation being changed: 412 when it is no longer " +
    "current, and nothing changes. Required (428) when the deployment sets REQUIRE_IF_MATCH",
  schema: { type: "string" as const, maxLength: 1024 },
};

/** The optional `Idempotency-Key` header of a create (draft-ietf-httpapi-idempotency-key-header). */
export const IDEMPOTENCY_KEY_PARAMETER = {
  name: "Idempotency-Key",
  in: "header" as const,
  required: false,
  description: "A key unique to this create (1 to 255 visible ASCII characters, e.g. a UUID): " +
    "a repeat within IDEMPOTENCY_TTL answers the first answer again, marked " +
    "`Idempotent-Replayed: true`, instead of creating twice; the same key with another request " +
    "is 422, a repeat while the first still runs 409",
  schema: { type: "string" as const, minLength: 1, maxLength: 257 },
};
