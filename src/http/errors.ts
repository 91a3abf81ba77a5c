/**
 * Domain errors and their RFC 9457 `application/problem+json` form. Handlers and middleware
 * throw these; the app's one `onError` turns them into responses.
 *
 * @module
 */

/** One field-level validation failure. */
export interface FieldError {
  path: string;
  message: string;
}

/** The body of every error response. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  request_id: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** Media type of every error body. */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Human title of a status code. */
export function statusTitle(status: number): string {
  return TITLES[status] ?? "Error";
}

/** Options shared by every {@link AppError}. */
export interface AppErrorOptions {
  /** Extra members of the problem body, such as `latest_version`. */
  extensions?: Record<string, unknown>;
  /** Response headers, such as `WWW-Authenticate` or `Retry-After`. */
  headers?: Record<string, string>;
  errors?: FieldError[];
  cause?: unknown;
}

/** An error the client caused or may retry; carries its status and a stable `code`. */
export class AppError extends Error {
  override name = "AppError";
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;
  readonly errors: FieldError[] | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    options: AppErrorOptions = {},
  ) {
    super(detail, { cause: options.cause });
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
    this.errors = options.errors;
  }

  /** The problem body for this error. */
  toProblem(requestId: string): Problem {
    return {
      type: `https://items-api.dev/problems/${this.code.replaceAll("_", "-")}`,
      title: statusTitle(this.status),
      status: this.status,
      detail: this.detail,
      code: this.code,
      request_id: requestId,
      ...(this.errors ? { errors: this.errors } : {}),
      ...this.extensions,
    };
  }
}

/** 400: the body could not be parsed. */
export class BadRequestError extends AppError {
  override name = "BadRequestError";
  constructor(detail = "Malformed request body", options?: AppErrorOptions) {
    super(400, "malformed_body", detail, options);
  }
}

/** 401: no valid credentials. Always carries `WWW-Authenticate`. */
export class UnauthorizedError extends AppError {
  override name = "UnauthorizedError";
  constructor(detail = "Not authenticated", scheme = "Bearer", options: AppErrorOptions = {}) {
    super(401, "unauthorized", detail, {
      ...options,
      headers: { "WWW-Authenticate": scheme, ...options.headers },
    });
  }
}

/** 403: authenticated, but not allowed. */
export class ForbiddenError extends AppError {
  override name = "ForbiddenError";
  constructor(detail = "Not enough permissions", options?: AppErrorOptions) {
    super(403, "forbidden", detail, options);
  }
}

/**
 * 403 for a valid credential without a scope the route needs: `WWW-Authenticate` names the
 * scopes (RFC 6750 section 3.1).
 */
export class InsufficientScopeError extends AppError {
  override name = "InsufficientScopeError";
  constructor(required: readonly string[]) {
    super(403, "insufficient_scope", `Requires the scope ${required.join(" ")}`, {
      headers: {
        "WWW-Authenticate": `Bearer error="insufficient_scope", scope="${required.join(" ")}"`,
      },
    });
  }
}

/** 404: the resource does not exist (or the caller may not know it does). */
export class NotFoundError extends AppError {
  override name = "NotFoundError";
  constructor(detail = "Not found", options?: AppErrorOptions) {
    super(404, "not_found", detail, options);
  }
}

/** 409: the change conflicts with the current state. */
export class ConflictError extends AppError {
  override name = "ConflictError";
  constructor(detail: string, options?: AppErrorOptions) {
    super(409, "conflict", detail, options);
  }
}

/** 422: the request is well-formed but its content is invalid. */
export class ValidationError extends AppError {
  override name = "ValidationError";
  constructor(errors: FieldError[], detail = "Request validation failed") {
    super(422, "validation_failed", detail, { errors });
  }
}

/** 503: a dependency (the database) is unavailable; the client may retry. */
export class ServiceUnavailableError extends AppError {
  override name = "ServiceUnavailableError";
  constructor(detail = "Service temporarily unavailable", options: AppErrorOptions = {}) {
    super(503, "service_unavailable", detail, {
      ...options,
      headers: { "Retry-After": "5", ...options.headers },
    });
  }
}

/** Build a problem+json response. */
export function problemResponse(
  problem: Problem,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "no-store", ...headers },
  });
}

/** 413: the body is larger than the configured limit. */
export class ContentTooLargeError extends AppError {
  override name = "ContentTooLargeError";
  constructor(limitBytes: number) {
    super(413, "content_too_large", `Request body is larger than ${limitBytes} bytes`, {
      extensions: { limit_bytes: limitBytes },
    });
  }
}

/**
 * 415: the body's media type is not one the route accepts. The accepted types go in
 * `Accept-Patch` (RFC 5789) on a PATCH, `Accept-Post` otherwise.
 */
export class UnsupportedMediaTypeError extends AppError {
  override name = "UnsupportedMediaTypeError";
  constructor(accepted: readonly string[], method = "POST") {
    const header = method.toUpperCase() === "PATCH" ? "Accept-Patch" : "Accept-Post";
    super(415, "unsupported_media_type", `Expected a body of type ${accepted.join(" or ")}`, {
      headers: { [header]: accepted.join(", ") },
    });
  }
}

/** 429: a rate limit is exhausted; `Retry-After` says when to try again. */
export class TooManyRequestsError extends AppError {
  override name = "TooManyRequestsError";
  constructor(
    retryAfterSeconds: number,
    detail = "Too many requests",
    options: AppErrorOptions = {},
  ) {
    super(429, "rate_limited", detail, {
      ...options,
      extensions: { retry_after: retryAfterSeconds, ...options.extensions },
      headers: { "Retry-After": String(retryAfterSeconds), ...options.headers },
    });
  }
}

/**
 * 422: a list whose filters no index serves (substring filters, a very broad `q`) would cost
 * more than one request may; the client narrows the filter or searches with `q`.
 */
export class QueryTooCostlyError extends AppError {
  override name = "QueryTooCostlyError";
  constructor(detail: string, options?: AppErrorOptions) {
    super(422, "query_too_costly", detail, options);
  }
}

/** 412: the `If-Match` of a write names a representation that is no longer current. */
export class PreconditionFailedError extends AppError {
  override name = "PreconditionFailedError";
  constructor(detail = "The resource changed since it was read; read it again and retry") {
    super(412, "precondition_failed", detail);
  }
}

/** 428: this deployment requires writes to say which representation they change. */
export class PreconditionRequiredError extends AppError {
  override name = "PreconditionRequiredError";
  constructor() {
    super(
      428,
      "precondition_required",
      "Send If-Match with the ETag of the representation you change (REQUIRE_IF_MATCH)",
    );
  }
}
