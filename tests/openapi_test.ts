/**
 * Walks the generated OpenAPI document and holds every operation to the same standard, so a
 * route added later without a summary, tag, security declaration or its error responses fails
 * here instead of shipping an incomplete document.
 */
import denoJson from "../deno.json" with { type: "json" };
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { VERSIONED_PATH_PREFIXES } from "@/app.ts";
import { EXEMPT_PATHS as RATE_LIMIT_EXEMPT_PATHS } from "@/middleware/rate-limit.ts";
import {
  addIntegerFormats,
  deriveOperationId,
  OPERATION_METHODS,
} from "@/modules/docs/openapi-document.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

interface Operation {
  method: string;
  path: string;
  op: Json;
}

function operationsOf(doc: Json): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const method of OPERATION_METHODS) {
      if (item[method]) out.push({ method, path, op: item[method] });
    }
  }
  return out;
}

/** Resolve a local `$ref` (`#/components/...`). */
function deref(doc: Json, node: Json): Json {
  let current = node;
  while (current && typeof current.$ref === "string") {
    const parts = current.$ref.replace(/^#\//, "").split("/");
    current = parts.reduce((at: Json, key: string) => at?.[key.replaceAll("~1", "/")], doc);
  }
  return current;
}

/** The required members of a schema, through `allOf`. */
function requiredOf(doc: Json, node: Json): Set<string> {
  const schema = deref(doc, node) ?? {};
  const out = new Set<string>(schema.required ?? []);
  for (const part of schema.allOf ?? []) for (const key of requiredOf(doc, part)) out.add(key);
  return out;
}

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Collects every failure, so one run lists all gaps at once. */
class Findings {
  readonly problems: string[] = [];
  check(condition: unknown, message: string): void {
    if (!condition) this.problems.push(message);
  }
  assertNone(): void {
    assert(this.problems.length === 0, `\n  - ${this.problems.join("\n  - ")}`);
  }
}

async function fetchDocument(app: TestApp): Promise<Json> {
  const res = await app.request("GET", "/openapi.json");
  assertEquals(res.status, 200);
  return await res.json();
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] the OpenAPI document describes the service completely`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const doc = await fetchDocument(app);
      const operations = operationsOf(doc);
      const schemes = doc.components?.securitySchemes ?? {};

      await t.step("document metadata: 3.1, version from deno.json, servers, license", () => {
        assert(/^3\.1\.\d+$/.test(doc.openapi), doc.openapi);
        assertEquals(doc.info.version, denoJson.version);
        assert(doc.info.title && doc.info.description && doc.info.summary, "info text");
        assert(doc.info.license?.name && doc.info.license?.identifier, "info.license");
        assert(doc.info.contact?.name, "info.contact");
        assert(Array.isArray(doc.servers) && doc.servers.length > 0, "servers");
        for (const server of doc.servers) {
          assert(!/^http:/.test(server.url), `plain-HTTP server ${server.url}`);
          assert(typeof server["x-internal"] === "boolean", "servers[].x-internal");
          assert(server.description, "servers[].description");
        }
        assert(operations.length >= 20, `only ${operations.length} operations`);
      });

      await t.step("a bearer scheme is declared", () => {
        const bearer = schemes.bearerAuth;
        assert(bearer, "components.securitySchemes.bearerAuth");
        assertEquals(bearer.type, "http");
        assertEquals(String(bearer.scheme).toLowerCase(), "bearer");
        assert(bearer.description, "bearerAuth.description");
      });

      await t.step("tags are declared once, described, and used", () => {
        const declared = new Map<string, Json>();
        for (const tag of doc.tags ?? []) {
          assert(!declared.has(tag.name), `tag ${tag.name} declared twice`);
          assert(tag.description, `tag ${tag.name} has no description`);
          declared.set(tag.name, tag);
        }
        const used = new Set(operations.flatMap(({ op }) => op.tags ?? []));
        for (const name of declared.keys()) assert(used.has(name), `tag ${name} is unused`);
      });

      await t.step("every operation: summary, tag, unique operationId, security", () => {
        const findings = new Findings();
        const ids = new Map<string, string>();
        const declaredTags = new Set((doc.tags ?? []).map((tag: Json) => tag.name));
        for (const { method, path, op } of operations) {
          const name = `${method.toUpperCase()} ${path}`;
          findings.check(typeof op.summary === "string" && op.summary.trim(), `${name}: summary`);
          findings.check(op.tags?.length > 0, `${name}: no tag`);
          for (const tag of op.tags ?? []) {
            findings.check(declaredTags.has(tag), `${name}: tag ${tag} is not declared`);
          }
          findings.check(typeof op.operationId === "string", `${name}: operationId`);
          findings.check(
            !ids.has(op.operationId),
            `${name}: operationId ${op.operationId} also used by ${ids.get(op.operationId)}`,
          );
          ids.set(op.operationId, name);
          findings.check(
            Array.isArray(op.security),
            `${name}: declare security (security: [] for a public operation)`,
          );
          for (const requirement of op.security ?? []) {
            for (const scheme of Object.keys(requirement)) {
              findings.check(schemes[scheme], `${name}: unknown security scheme ${scheme}`);
            }
          }
        }
        findings.assertNone();
      });

      await t.step("every operation declares the error statuses it can answer", () => {
        const findings = new Findings();
        const problemRequired: string[] = doc.components.schemas.Problem.required;
        for (const { method, path, op } of operations) {
          const name = `${method.toUpperCase()} ${path}`;
          const responses = op.responses ?? {};
          const has = (status: number) => responses[String(status)] !== undefined;
          const params = (op.parameters ?? []).map((p: Json) => deref(doc, p));
          const takesInput = op.requestBody !== undefined ||
            params.some((p: Json) => p.in !== "header");
          const secured = (op.security ?? []).some((r: Json) => Object.keys(r).length > 0);

          findings.check(has(500), `${name}: 500`);
          findings.check(has(503), `${name}: 503 (timeout, database down, draining)`);
          findings.check(
            deref(doc, responses["503"] ?? {}).headers?.["Retry-After"],
            `${name} 503: Retry-After header`,
          );
          if (takesInput) findings.check(has(422), `${name}: takes input but declares no 422`);
          if (secured) findings.check(has(401), `${name}: secured but declares no 401`);
          if (op.requestBody) {
            for (const status of [400, 413, 415]) {
              findings.check(has(status), `${name}: has a body but declares no ${status}`);
            }
          }
          if (RATE_LIMIT_EXEMPT_PATHS.has(path)) {
            findings.check(!has(429), `${name}: exempt from rate limits but declares 429`);
          } else {
            findings.check(has(429), `${name}: rate-limited but declares no 429`);
            findings.check(
              deref(doc, responses["429"] ?? {}).headers?.["Retry-After"],
              `${name} 429: Retry-After header`,
            );
          }
          if (VERSIONED_PATH_PREFIXES.some((prefix) => under(path, prefix))) {
            findings.check(has(426), `${name}: version-gated but declares no 426`);
            findings.check(
              params.some((p: Json) => p.in === "header" && p.name === "X-Version"),
              `${name}: version-gated but does not document X-Version`,
            );
          } else {
            findings.check(!has(426), `${name}: never gated but declares 426`);
          }
          for (const [status, response] of Object.entries(responses as Record<string, Json>)) {
            const resolved = deref(doc, response);
            findings.check(resolved.description, `${name} ${status}: description`);
            if (Number(status) >= 400) {
              const content = resolved.content ?? {};
              findings.check(
                Object.keys(content).length === 1 && content["application/problem+json"],
                `${name} ${status}: error responses are application/problem+json only`,
              );
              // The Problem schema, or one that extends it (413, 426 and 429 carry more).
              const schema = content["application/problem+json"]?.schema;
              const required = requiredOf(doc, schema ?? {});
              findings.check(
                typeof schema?.$ref === "string" &&
                  problemRequired.every((key: string) => required.has(key)),
                `${name} ${status}: error body is not the Problem schema or an extension of it`,
              );
            }
            findings.check(
              resolved.headers?.["X-Request-Id"],
              `${name} ${status}: X-Request-Id header`,
            );
          }
        }
        findings.assertNone();
      });

      await t.step("request bodies and JSON responses come with examples", () => {
        // Every leaf a client must send, and every leaf of a success body, has an example
        // (or an enum, const or default the docs can show), so the docs render real payloads.
        const findings = new Findings();
        const walk = (node: Json, where: string, requiredOnly: boolean): void => {
          const schema = deref(doc, node);
          if (!schema || typeof schema !== "object") return;
          if (["example", "examples", "enum", "const", "default"].some((k) => k in schema)) return;
          for (const part of schema.allOf ?? []) walk(part, where, requiredOnly);
          for (const part of schema.anyOf ?? schema.oneOf ?? []) walk(part, where, requiredOnly);
          if (schema.properties) {
            const required = new Set(schema.required ?? []);
            for (const [key, value] of Object.entries(schema.properties)) {
              if (!requiredOnly || required.has(key)) walk(value, `${where}.${key}`, requiredOnly);
            }
          } else if (schema.items) {
            walk(schema.items, `${where}[]`, requiredOnly);
          } else if (!schema.allOf && !schema.anyOf && !schema.oneOf && schema.type !== "null") {
            findings.problems.push(`${where}: no example`);
          }
        };
        for (const { method, path, op } of operations) {
          const name = `${method.toUpperCase()} ${path}`;
          for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
            walk((media as Json).schema, `${name} body (${type})`, true);
          }
          for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
            if (!status.startsWith("2")) continue;
            const media = deref(doc, response).content?.["application/json"];
            if (media) walk(media.schema, `${name} ${status}`, false);
          }
        }
        findings.assertNone();
      });

      await t.step("the info description names each list's exact shape", () => {
        // Every GET answering a page or a bare array is named with the shape it answers, so a
        // reader of the docs' front page is not promised an envelope the lists do not send.
        const description: string = doc.info.description;
        const findings = new Findings();
        for (const { method, path, op } of operations) {
          if (method !== "get") continue;
          const media = deref(doc, op.responses?.["200"])?.content?.["application/json"];
          const schema = deref(doc, media?.schema);
          if (!schema) continue;
          if (schema.type === "array") {
            findings.check(
              description.includes(`\`GET ${path}\``),
              `GET ${path} answers a bare array the description does not name`,
            );
          } else if (schema.properties?.next_cursor) {
            const key = Object.keys(schema.properties).find((k) =>
              schema.properties[k].type === "array"
            );
            const members = ["page", "limit", "total", "total_relation", "next_cursor", key];
            findings.check(
              Object.keys(schema.properties).join(",") === members.join(","),
              `GET ${path}: members ${Object.keys(schema.properties)}`,
            );
            findings.check(
              description.includes(`\`GET ${path}\` (\`${key}\`)`),
              `GET ${path} is not named with its member ${key}`,
            );
          }
        }
        findings.check(
          description.includes("`{page, limit, total, total_relation, next_cursor, <items>}`"),
          "the page envelope is not spelled out",
        );
        findings.check(!description.includes("{page, limit, total, <items>}"), "the old envelope");
        findings.assertNone();
      });

      await t.step("docs, static files and the redirect stay out of the document", () => {
        const paths = Object.keys(doc.paths);
        for (const hidden of ["/", "/docs", "/docs/swagger", "/openapi.json", "/logo.png"]) {
          assert(!paths.includes(hidden), `${hidden} is in the document`);
        }
        assert(!paths.some((p) => p.startsWith("/docs/")), "a docs asset is in the document");
        assert(!paths.includes("/metrics"), "/metrics is in the public document");
      });

      await t.step("every documented operation exists (no 404 for the route, no 405)", async () => {
        const findings = new Findings();
        for (const { method, path } of operations) {
          // Path parameters become an id that need not exist; no credentials are sent, so
          // nothing changes: a secured route answers 401, a public one 200/4xx.
          const url = path.replace(/\{[^}]+\}/g, "1");
          const res = await app.request(method.toUpperCase(), url);
          const text = await res.text();
          findings.check(res.status !== 405, `${method.toUpperCase()} ${path}: 405`);
          findings.check(
            !(res.status === 404 && text.includes("No route for")),
            `${method.toUpperCase()} ${path}: no such route`,
          );
        }
        findings.assertNone();
      });

      await t.step("public reads carry the rate-limit headers the document promises", async () => {
        const findings = new Findings();
        for (const { method, path, op } of operations) {
          if (method !== "get" || (op.security ?? []).length > 0) continue;
          const ok = deref(doc, op.responses["200"] ?? {});
          const promised = ok.headers?.RateLimit !== undefined;
          const res = await app.request("GET", path.replace(/\{[^}]+\}/g, "1"));
          await res.body?.cancel();
          if (res.status !== 200) continue;
          findings.check(
            (res.headers.get("ratelimit") !== null) === promised,
            `GET ${path}: RateLimit header ${
              promised ? "promised but absent" : "sent but undocumented"
            }`,
          );
          findings.check(res.headers.get("x-request-id"), `GET ${path}: X-Request-Id`);
        }
        findings.assertNone();
      });
    } finally {
      await app.close();
    }
  });
}

Deno.test("deriveOperationId() names an operation by method and path", () => {
  assertEquals(deriveOperationId("get", "/items"), "getItems");
  assertEquals(deriveOperationId("patch", "/items/{item_id}"), "patchItemsByItemId");
  assertEquals(
    deriveOperationId("delete", "/auth/sessions/{session_id}"),
    "deleteAuthSessionsBySessionId",
  );
  assertEquals(deriveOperationId("get", "/"), "getRoot");
});

Deno.test("addIntegerFormats() picks int32 only when the bounds fit in 32 bits", () => {
  const doc: Json = {
    a: { type: "integer", minimum: 1, maximum: 100 },
    b: { type: "integer", exclusiveMinimum: 0, maximum: 4_294_967_295 },
    c: { type: "integer" },
    d: { type: ["integer", "null"], minimum: -5, maximum: 5 },
    e: { type: "integer", format: "int64", minimum: 1, maximum: 2 },
    nested: [{ type: "integer", minimum: -(2 ** 31), exclusiveMaximum: 2 ** 31 }],
  };
  addIntegerFormats(doc);
  assertEquals(doc.a, { type: "integer", minimum: 1, maximum: 100, format: "int32" });
  assertEquals(doc.b.format, "int64");
  assertEquals(doc.c.format, "int64");
  assertEquals(doc.d.format, "int32");
  assertEquals(doc.e.format, "int64");
  assertEquals(doc.nested[0].format, "int32");
});
