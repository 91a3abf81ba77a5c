/**
 * The OpenAPI 3.1 document at `/openapi.json`: generated from the zod-openapi route
 * definitions, then completed in one place with what every operation shares and no single
 * route file knows — a derived `operationId`, the 500 and 503 any request can meet, the 426 and
 * `X-Version` parameter of version-gated paths, the 429 of rate-limited ones, and the response
 * headers the global middleware sets (`X-Request-Id`, CORS, `Deprecation`/`Sunset`,
 * `RateLimit`/`RateLimit-Policy`). Nothing a route declares is overwritten.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import denoJson from "../../../deno.json" with { type: "json" };
import type { AppEnv } from "@/middleware/app-env.ts";
import { PROBLEM_CONTENT_TYPE } from "@/http/errors.ts";
import {
  BEARER_SCHEME_NAME,
  type ErrorStatus,
  PROBLEM_EXAMPLES,
  PROBLEM_SCHEMA_NAMES,
  PROBLEM_SCHEMAS,
  problemDescription,
} from "@/http/openapi.ts";
import { isRequiredBody } from "@/http/router.ts";
import { EXEMPT_PATHS as RATE_LIMIT_EXEMPT_PATHS } from "@/middleware/rate-limit.ts";

/** The OpenAPI document as plain JSON. */
export type OpenApiDocument = ReturnType<OpenAPIHono<AppEnv>["getOpenAPI31Document"]>;

/** HTTP methods that hold an operation in a path item. */
export const OPERATION_METHODS = [
  "get",
  "put",
  "post",
  "delete",
  "options",
  "head",
  "patch",
  "trace",
] as const;

/** Tags of the API, in the order the docs list them. Every operation uses one of these. */
/** An OpenAPI tag: each module declares its own in its descriptor. */
export interface OpenApiTag {
  readonly name: string;
  readonly description: string;
}

/** Where {@link describeLists} puts the paragraph on list shapes, written from the document. */
const LISTS_MARKER = "{{lists}}";

const DESCRIPTION = `A reference REST service for users and their items, on Deno and Hono.

**Authentication.** \`POST /auth/token\` exchanges a username and password for a bearer access
token and a refresh token. Send \`Authorization: Bearer <access_token>\` on every other call;
the refresh grant on the same URL (\`grant_type=refresh_token\`, RFC 6749 section 6) or
\`POST /auth/refresh\` rotates the pair. In these docs, "Authorize" (Swagger) and the
Authentication panel (Scalar, whose Refresh button renews the tokens) log in with a username and
password through the OAuth 2 password flow. Machine clients send an API key from
\`POST /auth/api-keys\` the same way (\`Authorization: Bearer iak_…\`).

**Errors.** Every error is an RFC 9457 \`application/problem+json\` body with \`type\`, \`title\`,
\`status\`, \`detail\`, a stable \`code\` and the \`request_id\` (also in the \`X-Request-Id\`
header; quote it when reporting a problem). Validation failures (422) list each field in
\`errors\`. Checks run in this order: version 426, authentication 401, permission 403, body
400/413/415, validation 422, existence 404, conflict 409.

**Client versions.** A client may name its version in \`X-Version\`. An unknown or retired one
gets 426 with the latest supported version; a deprecated one gets \`Deprecation\` and
\`Sunset\` headers. No header: allowed.

**Rate limits.** Logins (and \`current_password\` checks) are throttled per username and client
address, failed bearer tokens per address, renames per user; the whole API per caller. A
refused request gets 429 with \`Retry-After\`.

${LISTS_MARKER}`;

/** Document-level fields: everything but the paths and schemas the routes contribute. */
export const OPENAPI_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "items-api",
    version: denoJson.version,
    summary: "Users, items, roles and client versions behind bearer tokens",
    description: DESCRIPTION,
    license: { name: "MIT", identifier: "MIT" },
    contact: { name: "items-api maintainers", url: "https://items-api.dev" },
  },
  servers: [{
    url: "/",
    description:
      "This deployment: the host serving this document (local, staging or production alike)",
    "x-internal": false,
  }],
} as const;

/** Options of {@link buildOpenApiDocument}. */
export interface OpenApiDocumentOptions {
  /** The tags of the document, in order (from the modules' descriptors). */
  tags: readonly OpenApiTag[];
  /** Path prefixes behind the `X-Version` gate (they may answer 426). */
  versionedPathPrefixes: readonly string[];
  /**
   * The provider's discovery URL when provider JWTs are accepted (OIDC_ISSUER): adds an
   * `openIdConnect` scheme as an alternative to the bearer one, with the same scopes.
   */
  openIdConnectUrl?: string | undefined;
}

/** Name of the OpenID Connect security scheme in the document (when configured). */
export const OIDC_SCHEME_NAME = "oidcAuth";

/** Offer the `openIdConnect` scheme wherever the bearer scheme is required. */
function addOpenIdConnect(doc: OpenApiDocument, components: Json, url: string): void {
  const schemes = (components.securitySchemes ??= {}) as Json;
  schemes[OIDC_SCHEME_NAME] ??= {
    type: "openIdConnect",
    openIdConnectUrl: url,
    description:
      "An access token (a signed JWT) from the configured OpenID Connect provider, for this " +
      "API's audience; its `scope` claim narrows what it may call",
  };
  for (const item of Object.values(doc.paths ?? {})) {
    for (const method of OPERATION_METHODS) {
      const operation = (item as Json)[method] as Json | undefined;
      const security = operation?.security as Array<Record<string, string[]>> | undefined;
      if (!security) continue;
      const alternatives = security.flatMap((requirement) =>
        requirement[BEARER_SCHEME_NAME] && !security.some((r) => r[OIDC_SCHEME_NAME])
          ? [{ [OIDC_SCHEME_NAME]: requirement[BEARER_SCHEME_NAME] }]
          : []
      );
      security.push(...alternatives);
    }
  }
}

/** `GET /items/{item_id}` -> `getItemsByItemId`: unique per method and path, stable. */
export function deriveOperationId(method: string, path: string): string {
  const pascal = (text: string) =>
    text.split(/[^A-Za-z0-9]+/).filter(Boolean)
      .map((word) => word[0]!.toUpperCase() + word.slice(1)).join("");
  const parts = path.split("/").filter(Boolean).map((segment) => {
    const param = /^\{(.+)\}$/.exec(segment);
    return param ? `By${pascal(param[1]!)}` : pascal(segment);
  });
  return `${method.toLowerCase()}${parts.join("") || "Root"}`;
}

function under(path: string, prefix: string): boolean {
  return path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === "/");
}

type Json = Record<string, unknown>;

const HEADER_COMPONENTS: Record<string, Json> = {
  "X-Request-Id": {
    description:
      "The request's id: the caller's own `X-Request-Id` when it is 1 to 128 safe characters, " +
      "otherwise a generated UUID. Logged with the request; quote it when reporting a problem.",
    schema: { type: "string", maxLength: 128, pattern: "^[A-Za-z0-9._:-]{1,128}$" },
  },
  "Access-Control-Allow-Origin": {
    description:
      "Present only when the request's `Origin` is in `CORS_ORIGINS`, and then equal to it. " +
      "A foreign origin gets no CORS header.",
    schema: { type: "string", format: "uri", maxLength: 2048 },
  },
  Deprecation: {
    description: "RFC 9745: present when the client's `X-Version` is deprecated; the date it was " +
      "deprecated, as `@<unix seconds>`.",
    schema: { type: "string", maxLength: 32, pattern: "^@[0-9]+$" },
  },
  Sunset: {
    description:
      "RFC 8594: present when the client's deprecated `X-Version` has a retirement date, as an " +
      "HTTP-date; from then on that version gets 426.",
    schema: { type: "string", maxLength: 64, example: "Wed, 01 Jul 2026 00:00:00 GMT" },
  },
};

const RATE_LIMIT_HEADERS: Record<string, Json> = {
  RateLimit: {
    description:
      "draft-ietf-httpapi-ratelimit-headers: per policy the caller was counted against, the " +
      'requests left and the seconds until the window resets, e.g. `"api";r=599;t=60`. ' +
      "Public operations count per client address before anything else, so all their answers " +
      "carry it, 426 included. Operations that need a token count per user once the token is " +
      "valid, so their 401 and 426 answers (refused before that) do not carry it.",
    schema: { type: "string", maxLength: 512, example: '"api";r=599;t=60' },
  },
  "RateLimit-Policy": {
    description:
      "draft-ietf-httpapi-ratelimit-headers: the policies above, with their quota and window " +
      'in seconds, e.g. `"api";q=600;w=60`.',
    schema: { type: "string", maxLength: 512, example: '"api";q=600;w=60' },
  },
  "Retry-After": {
    description: "Seconds until a retry can succeed (RFC 9110).",
    schema: { type: "integer", minimum: 0, maximum: 86_400, example: 42 },
  },
};

const CHALLENGE_HEADERS: Record<string, Json> = {
  "WWW-Authenticate": {
    description: "RFC 9110 / RFC 6750: on a 401, the scheme to authenticate with, `Bearer`, " +
      'with `error="invalid_token"` when a token was presented but is invalid, expired or ' +
      "revoked; on a 403 for a credential without the operation's scopes, " +
      '`Bearer error="insufficient_scope", scope="<the scopes needed>"`.',
    schema: { type: "string", maxLength: 512, example: 'Bearer error="invalid_token"' },
  },
  Location: {
    description: "The path of the created resource (RFC 9110), e.g. `/items/42`.",
    schema: { type: "string", format: "uri-reference", maxLength: 2048, example: "/items/42" },
  },
  "Accept-Post": {
    description: "The media types this POST accepts (W3C Linked Data Platform, RFC 9110 15.5.16).",
    schema: { type: "string", maxLength: 256, example: "application/json" },
  },
  "Accept-Patch": {
    description: "The media types this PATCH accepts (RFC 5789 section 3.1).",
    schema: { type: "string", maxLength: 256, example: "application/json" },
  },
};

const X_VERSION_PARAMETER = {
  name: "X-Version",
  in: "header",
  required: false,
  description:
    "The client's version (see `GET /versions`). Absent: allowed. Unknown or retired: 426. " +
    "Deprecated: allowed, with `Deprecation` and `Sunset` response headers.",
  schema: { type: "string", maxLength: 32, pattern: "^[0-9A-Za-z.+-]+$", example: "1.0" },
};

/** A problem+json response entry, as `problemResponses` makes them, by reference. */
function problemEntry(status: ErrorStatus): Json {
  const schema = PROBLEM_SCHEMA_NAMES[status] ?? "Problem";
  return {
    description: problemDescription(status),
    content: {
      [PROBLEM_CONTENT_TYPE]: {
        schema: { $ref: `#/components/schemas/${schema}` },
        example: PROBLEM_EXAMPLES[status],
      },
    },
  };
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Give every integer schema without a `format` the one its bounds imply: `int32` when they fit
 * in 32 bits, else `int64` (every integer of this API is a JSON-safe one, at most 2^53 - 1).
 */
export function addIntegerFormats(node: unknown): void {
  if (Array.isArray(node)) {
    for (const child of node) addIntegerFormats(child);
    return;
  }
  if (node === null || typeof node !== "object") return;
  const schema = node as Json;
  const type = schema.type;
  const isInteger = type === "integer" || (Array.isArray(type) && type.includes("integer"));
  if (isInteger && schema.format === undefined) {
    const bound = (inclusive: unknown, exclusive: unknown, step: number) =>
      typeof inclusive === "number"
        ? inclusive
        : typeof exclusive === "number"
        ? exclusive + step
        : undefined;
    const low = bound(schema.minimum, schema.exclusiveMinimum, 1);
    const high = bound(schema.maximum, schema.exclusiveMaximum, -1);
    const fits = low !== undefined && high !== undefined && low >= INT32_MIN && high <= INT32_MAX;
    schema.format = fits ? "int32" : "int64";
  }
  for (const child of Object.values(schema)) addIntegerFormats(child);
}

/** `a`, `a and b`, `a, b and c`. */
function sentenceList(parts: readonly string[]): string {
  return parts.length <= 1
    ? parts.join("")
    : `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
}

/**
 * Write the description's paragraph on list shapes from the document itself, so it names every
 * list operation with the shape it answers, those added later included: the paged lists (a 200
 * with `next_cursor`) and the ones answering a bare JSON array.
 */
export function describeLists(doc: OpenApiDocument): void {
  const info = doc.info as unknown as Json;
  if (typeof info.description !== "string" || !info.description.includes(LISTS_MARKER)) return;
  const schemas = ((doc.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>;
  const deref = (node: Json | undefined): Json | undefined =>
    typeof node?.$ref === "string" ? schemas[node.$ref.replace("#/components/schemas/", "")] : node;
  const paged: string[] = [];
  const bare: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const responses = (item as Json).get as Json | undefined;
    const ok = (responses?.responses as Json | undefined)?.["200"] as Json | undefined;
    const schema = deref(
      ((ok?.content as Json | undefined)?.["application/json"] as Json)?.schema as Json,
    );
    if (!schema) continue;
    const properties = schema.properties as Record<string, Json> | undefined;
    if (schema.type === "array") bare.push(`\`GET ${path}\``);
    else if (properties?.next_cursor) {
      const key = Object.keys(properties).find((name) => properties[name]!.type === "array");
      paged.push(`\`GET ${path}\` (\`${key}\`)`);
    }
  }
  const text = `**Lists.** ${sentenceList(paged)} are paged: they take \`page\` (from 1) or ` +
    `\`cursor\`, and \`limit\` (1 to 100), and answer ` +
    `\`{page, limit, total, total_relation, next_cursor, <items>}\` in a stable order ` +
    `(\`<items>\` is the member named after each path). \`page\` is null on a page reached by ` +
    `\`cursor\`; \`total_relation\` is \`eq\` when \`total\` is exact and \`gte\` when counting ` +
    `stopped; \`next_cursor\` (null on the last page) is passed back as \`cursor\`. ` +
    `${sentenceList(bare)} answer a bare JSON array: short, unpaged lists, kept as the ` +
    `reference app answered them.`;
  info.description = info.description.replace(LISTS_MARKER, text);
}

/**
 * Drop the `discriminator` of a `oneOf` whose property some option does not require (the
 * password grant of `POST /auth/token` may leave `grant_type` out): OpenAPI 3.1 expects the
 * property in every payload, and a generator given a partial mapping would type the unmapped
 * option with its schema's name. The options still exclude each other, so `oneOf` alone says it.
 */
export function dropOptionalDiscriminators(doc: OpenApiDocument): void {
  const schemas = ((doc.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== "object") return;
    const schema = node as Json;
    const discriminator = schema.discriminator as { propertyName?: string } | undefined;
    if (discriminator && Array.isArray(schema.oneOf)) {
      const property = discriminator.propertyName;
      const requiredByAll = (schema.oneOf as Json[]).every((option) => {
        const ref = typeof option.$ref === "string"
          ? schemas[option.$ref.replace("#/components/schemas/", "")]
          : option;
        return Array.isArray(ref?.required) && ref.required.includes(property);
      });
      if (!requiredByAll) delete schema.discriminator;
    }
    for (const child of Object.values(schema)) visit(child);
  };
  visit(doc);
}

/**
 * Complete a generated document in place: shared components, derived operation ids and the
 * responses, parameters and headers the global middleware adds. Route declarations win.
 */
export function completeOpenApiDocument(
  doc: OpenApiDocument,
  options: OpenApiDocumentOptions,
): OpenApiDocument {
  const components = (doc.components ??= {}) as Json;
  const headers = (components.headers ??= {}) as Json;
  const allHeaders = { ...HEADER_COMPONENTS, ...RATE_LIMIT_HEADERS, ...CHALLENGE_HEADERS };
  for (const [name, header] of Object.entries(allHeaders)) {
    headers[name] ??= header;
  }
  const parameters = (components.parameters ??= {}) as Json;
  parameters.XVersion ??= X_VERSION_PARAMETER;

  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const pathItem = item as Json;
    const versioned = options.versionedPathPrefixes.some((prefix) => under(path, prefix));
    const limited = !RATE_LIMIT_EXEMPT_PATHS.has(path);
    for (const method of OPERATION_METHODS) {
      const operation = pathItem[method] as Json | undefined;
      if (!operation) continue;
      operation.operationId ??= deriveOperationId(method, path);
      const requestBody = operation.requestBody as Json | undefined;
      if (requestBody && isRequiredBody(method, path)) requestBody.required = true;
      const responses = (operation.responses ??= {}) as Record<string, Json>;
      // Any handler can fail unexpectedly (500); any request can outlive the request timeout,
      // meet an unavailable database or arrive while the instance drains (503).
      responses["500"] ??= problemEntry(500);
      responses["503"] ??= problemEntry(503);
      if (versioned) {
        const declared = ((operation.parameters ??= []) as Json[]).some((p) =>
          typeof p.name === "string" && p.name.toLowerCase() === "x-version" && p.in === "header"
        );
        if (!declared) {
          (operation.parameters as Json[]).push({ $ref: "#/components/parameters/XVersion" });
        }
        responses["426"] ??= problemEntry(426);
      }
      if (limited) {
        responses["429"] ??= problemEntry(429);
      }
      for (const status of ["429", "503"]) {
        const response = responses[status];
        if (response && !("$ref" in response)) {
          ((response.headers ??= {}) as Json)["Retry-After"] ??= {
            $ref: "#/components/headers/Retry-After",
          };
        }
      }
      for (const [status, response] of Object.entries(responses)) {
        if ("$ref" in response) continue;
        const own = (response.headers ??= {}) as Json;
        if (status === "401" || (status === "403" && needsScopes(operation))) {
          own["WWW-Authenticate"] ??= { $ref: "#/components/headers/WWW-Authenticate" };
        }
        if (status === "201") own.Location ??= { $ref: "#/components/headers/Location" };
        if (status === "415" && (method === "post" || method === "patch")) {
          const name = method === "post" ? "Accept-Post" : "Accept-Patch";
          own[name] ??= { $ref: `#/components/headers/${name}` };
        }
        if (limited && /^[24]/.test(status)) {
          own.RateLimit ??= { $ref: "#/components/headers/RateLimit" };
          own["RateLimit-Policy"] ??= { $ref: "#/components/headers/RateLimit-Policy" };
        }
        own["X-Request-Id"] ??= { $ref: "#/components/headers/X-Request-Id" };
        own["Access-Control-Allow-Origin"] ??= {
          $ref: "#/components/headers/Access-Control-Allow-Origin",
        };
        if (versioned && status !== "426") {
          own.Deprecation ??= { $ref: "#/components/headers/Deprecation" };
          own.Sunset ??= { $ref: "#/components/headers/Sunset" };
        }
      }
    }
  }
  if (options.openIdConnectUrl) addOpenIdConnect(doc, components, options.openIdConnectUrl);
  addIntegerFormats(doc);
  dropOptionalDiscriminators(doc);
  describeLists(doc);
  return doc;
}

/** Whether an operation's security names scopes (so a 403 may be `insufficient_scope`). */
function needsScopes(operation: Json): boolean {
  return ((operation.security ?? []) as Record<string, string[]>[])
    .some((requirement) => Object.values(requirement).some((scopes) => scopes.length > 0));
}

const registered = new WeakSet<object>();

/** Generate the document of `app`'s OpenAPI routes and complete it. */
export function buildOpenApiDocument(
  app: OpenAPIHono<AppEnv>,
  options: OpenApiDocumentOptions,
): OpenApiDocument {
  // The extended problem schemas, for the 413/426/429 entries added above by reference.
  if (!registered.has(app.openAPIRegistry)) {
    registered.add(app.openAPIRegistry);
    for (const [status, schema] of Object.entries(PROBLEM_SCHEMAS)) {
      app.openAPIRegistry.register(PROBLEM_SCHEMA_NAMES[Number(status)]!, schema);
    }
  }
  const config = { ...structuredClone(OPENAPI_CONFIG), tags: [...options.tags] };
  const generated = app.getOpenAPI31Document(config as never);
  // A copy: the generated objects may share parts with the route definitions.
  return completeOpenApiDocument(structuredClone(generated), options);
}
