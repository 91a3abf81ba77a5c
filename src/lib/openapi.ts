/**
 * Shared OpenAPI pieces: the problem+json schema and response entries for error statuses, so
 * every route declares exactly the statuses it can answer with one line.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { PROBLEM_CONTENT_TYPE, statusTitle } from "@/lib/errors.ts";
import type { Scope } from "@/lib/scopes.ts";

/** Name of the bearer security scheme in the OpenAPI document. */
export const BEARER_SCHEME_NAME = "bearerAuth";

/**
 * The `security` of a route that needs these scopes: one requirement per scheme that can
 * carry them (OpenAPI 3.1 allows scope names for any scheme type).
 */
export function securityRequirement(
  scopes: readonly Scope[],
): Array<Record<string, string[]>> {
  return [{ [BEARER_SCHEME_NAME]: [...scopes] }];
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

/** Error statuses a route may declare. */
export type ErrorStatus =
  | 400
  | 401
  | 403
  | 404
  | 405
  | 409
  | 413
  | 415
  | 422
  | 426
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
  413: "Request body too large",
  415: "Unsupported media type",
  422: "Validation failed",
  426: "Client version not supported anymore",
  429: "Too many requests",
  500: "Unexpected server error",
  503: "Service temporarily unavailable",
};

type ProblemResponse = {
  description: string;
  content: { [PROBLEM_CONTENT_TYPE]: { schema: typeof ProblemSchema } };
};

/**
 * Response entries for the given error statuses, for a route's `responses`.
 *
 * @example
 * ```ts
 * responses: { 200: {...}, ...problemResponses(401, 404, 422) }
 * ```
 */
export function problemResponses<const S extends ErrorStatus>(
  ...statuses: S[]
): Record<S, ProblemResponse> {
  const out = {} as Record<S, ProblemResponse>;
  for (const status of statuses) {
    out[status] = {
      description: `${statusTitle(status)}: ${DESCRIPTIONS[status]}`,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
    };
  }
  return out;
}

/** A JSON response entry for a route's `responses`. */
export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}
