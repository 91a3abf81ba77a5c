/**
 * What a generated client needs from the OpenAPI document, beyond "every status is declared":
 * the extra members of 413/426/429 bodies, one example per error status, the headers clients
 * act on, integer ids with the bounds the service enforces, declared filter limits, required
 * bodies, invalid whitespace-only names, date-time timestamps, RateLimit where it is sent,
 * filters that are not prefilled, and an OAuth 2 password flow for the docs' login dialogs.
 * Each check walks every operation, so it holds for routes added later; where it can, it also
 * asks the running app whether the document tells the truth.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin } from "./helpers/auth.ts";
import { OPERATION_METHODS } from "@/modules/docs/openapi-document.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

interface Operation {
  method: string;
  path: string;
  name: string;
  op: Json;
}

function operationsOf(doc: Json): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const method of OPERATION_METHODS) {
      if (item[method]) {
        out.push({ method, path, name: `${method.toUpperCase()} ${path}`, op: item[method] });
      }
    }
  }
  return out;
}

function deref(doc: Json, node: Json): Json {
  let current = node;
  while (current && typeof current.$ref === "string") {
    const parts = current.$ref.replace(/^#\//, "").split("/");
    current = parts.reduce((at: Json, key: string) => at?.[key.replaceAll("~1", "/")], doc);
  }
  return current;
}

/** Properties and required names of a schema, through `allOf`. */
function flatten(doc: Json, node: Json): { properties: Record<string, Json>; required: string[] } {
  const schema = deref(doc, node) ?? {};
  const properties: Record<string, Json> = { ...(schema.properties ?? {}) };
  const required: string[] = [...(schema.required ?? [])];
  for (const part of schema.allOf ?? []) {
    const inner = flatten(doc, part);
    Object.assign(properties, inner.properties);
    required.push(...inner.required);
  }
  return { properties, required };
}

/** Every schema object in the document, with where it is. */
function* schemasOf(node: Json, where = "#"): Generator<[string, Json]> {
  if (Array.isArray(node)) {
    for (const [i, child] of node.entries()) yield* schemasOf(child, `${where}/${i}`);
    return;
  }
  if (node === null || typeof node !== "object") return;
  yield [where, node];
  for (const [key, child] of Object.entries(node)) yield* schemasOf(child, `${where}/${key}`);
}

class Findings {
  readonly problems: string[] = [];
  check(condition: unknown, message: string): void {
    if (!condition) this.problems.push(message);
  }
  assertNone(): void {
    assert(this.problems.length === 0, `\n  - ${this.problems.join("\n  - ")}`);
  }
}

function parameters(doc: Json, op: Json): Json[] {
  return (op.parameters ?? []).map((p: Json) => deref(doc, p));
}

/** `path` with every `{param}` replaced by `value`. */
function fill(path: string, value: string | number): string {
  return path.replace(/\{[^}]+\}/g, String(value));
}

async function documentOf(app: TestApp): Promise<Json> {
  const res = await app.request("GET", "/openapi.json");
  assertEquals(res.status, 200);
  return await res.json();
}

Deno.test("the OpenAPI document gives generated clients what the service really does", async (t) => {
  const app = await createTestApp("sqlite");
  try {
    const doc = await documentOf(app);
    const operations = operationsOf(doc);
    const user = await createUser(app);
    const auth = bearer(user.token);
    // Passes every permission check, so the answers below are about the input alone.
    const admin = bearer((await loginAdmin(app)).access_token);

    await t.step("413, 426 and 429 bodies declare limit_bytes, the versions, retry_after", () => {
      const extra: Record<string, string[]> = {
        "413": ["limit_bytes"],
        "426": ["latest_version", "supported_versions"],
        "429": ["retry_after"],
      };
      const findings = new Findings();
      for (const { name, op } of operations) {
        for (const [status, members] of Object.entries(extra)) {
          const response = op.responses[status];
          if (!response) continue;
          const schema = deref(doc, response).content?.["application/problem+json"]?.schema;
          const { properties, required } = flatten(doc, schema);
          for (const member of members) {
            findings.check(properties[member], `${name} ${status}: ${member} is not declared`);
            findings.check(required.includes(member), `${name} ${status}: ${member} not required`);
          }
        }
      }
      findings.assertNone();
    });

    await t.step("the answers carry those members", async () => {
      const gated = await app.request("GET", "/items", {
        headers: { ...auth, "X-Version": "0.1" },
      });
      const version = await expectProblem(gated, 426);
      assertEquals(typeof version.latest_version, "string");
      assert(Array.isArray(version.supported_versions) && version.supported_versions.length > 0);
      const big = await app.request("POST", "/items", {
        json: { name: "big", description: "x".repeat(app.config.http.bodyLimitBytes) },
        headers: auth,
      });
      assertEquals((await expectProblem(big, 413)).limit_bytes, app.config.http.bodyLimitBytes);
      const limited = await createTestApp("sqlite", { env: { RATE_LIMIT_API_MAX: "1" } });
      try {
        await (await limited.request("GET", "/roles")).body?.cancel();
        const body = await expectProblem(await limited.request("GET", "/roles"), 429);
        assert(typeof body.retry_after === "number" && body.retry_after > 0, "retry_after");
      } finally {
        await limited.close();
      }
    });

    await t.step("each error status has its own example, valid for its schema", () => {
      const findings = new Findings();
      for (const { name, op } of operations) {
        const details = new Map<string, string>();
        for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
          if (Number(status) < 400) continue;
          const media = deref(doc, response).content?.["application/problem+json"] ?? {};
          const example = media.example;
          findings.check(example, `${name} ${status}: no example`);
          if (!example) continue;
          findings.check(example.status === Number(status), `${name} ${status}: example status`);
          const { properties, required } = flatten(doc, media.schema);
          for (const key of required) {
            findings.check(key in example, `${name} ${status}: example lacks ${key}`);
          }
          for (const key of Object.keys(example)) {
            findings.check(key in properties, `${name} ${status}: example has undeclared ${key}`);
          }
          const twin = [...details].find(([, detail]) => detail === example.detail);
          findings.check(!twin, `${name} ${status}: same example as ${twin?.[0]}`);
          details.set(status, example.detail);
        }
      }
      findings.assertNone();
    });

    await t.step(
      "WWW-Authenticate on 401 (and scoped 403), Location on 201, Accept-Patch/Post on 415",
      () => {
        const findings = new Findings();
        for (const { method, name, op } of operations) {
          const headersOf = (status: string) =>
            deref(doc, op.responses[status] ?? {}).headers ?? {};
          if (op.responses["401"]) {
            findings.check(headersOf("401")["WWW-Authenticate"], `${name} 401: WWW-Authenticate`);
          }
          const scoped = (op.security ?? []).some((r: Json) =>
            Object.values(r).some((scopes) => (scopes as string[]).length > 0)
          );
          if (op.responses["403"] && scoped) {
            findings.check(headersOf("403")["WWW-Authenticate"], `${name} 403: WWW-Authenticate`);
          }
          if (op.responses["201"]) {
            findings.check(headersOf("201").Location, `${name} 201: Location`);
          }
          if (op.responses["415"] && method === "patch") {
            findings.check(headersOf("415")["Accept-Patch"], `${name} 415: Accept-Patch`);
            findings.check(!headersOf("415")["Accept-Post"], `${name} 415: Accept-Post on a PATCH`);
          }
          if (op.responses["415"] && method === "post") {
            findings.check(headersOf("415")["Accept-Post"], `${name} 415: Accept-Post`);
          }
        }
        findings.assertNone();
      },
    );

    await t.step("the answers carry those headers", async () => {
      const created = await app.request("POST", "/items", { json: { name: "Pen" }, headers: auth });
      assertEquals(created.status, 201);
      const item = await created.json();
      assertEquals(created.headers.get("location"), `/items/${item.id}`);
      const anonymous = await app.request("GET", "/items");
      assert(anonymous.headers.get("www-authenticate")?.startsWith("Bearer"));
      await expectProblem(anonymous, 401);
      for (const method of ["POST", "PATCH"]) {
        const path = method === "POST" ? "/items" : `/items/${item.id}`;
        const res = await app.request(method, path, {
          body: "name=x",
          headers: { ...auth, "Content-Type": "text/plain" },
        });
        const own = method === "POST" ? "accept-post" : "accept-patch";
        const other = method === "POST" ? "accept-patch" : "accept-post";
        assertEquals(res.headers.get(own), "application/json", `${method}: ${own}`);
        assertEquals(res.headers.get(other), null, `${method}: ${other}`);
        await expectProblem(res, 415);
      }
    });

    await t.step("ids in paths and queries are integers with the enforced bounds", async () => {
      const findings = new Findings();
      for (const { method, path, name, op } of operations) {
        for (const p of parameters(doc, op)) {
          if (!(p.in === "path" || p.in === "query") || !/(^|_)id$/.test(p.name)) continue;
          const where = `${name} ${p.in} ${p.name}`;
          const schema = p.schema ?? {};
          findings.check(schema.type === "integer", `${where}: type ${schema.type}`);
          findings.check(schema.pattern === undefined, `${where}: an integer has no pattern`);
          const low = schema.minimum ?? (schema.exclusiveMinimum ?? 0) + 1;
          const high = schema.maximum ?? (schema.exclusiveMaximum ?? NaN) - 1;
          findings.check(low === 1, `${where}: minimum ${low}`);
          findings.check(Number.isSafeInteger(high), `${where}: no maximum`);
          if (method !== "get" || p.in !== "path" || !Number.isSafeInteger(high)) continue;
          // The bounds are the service's: the largest is looked up, one more is refused.
          const headers = (op.security ?? []).length > 0 ? admin : {};
          const top = await app.request("GET", fill(path, high), { headers });
          await top.body?.cancel();
          findings.check(top.status !== 422, `${where}: ${high} refused (${top.status})`);
          const over = await app.request("GET", fill(path, high + 1), { headers });
          await over.body?.cancel();
          findings.check(over.status === 422, `${where}: ${high + 1} answered ${over.status}`);
        }
      }
      findings.assertNone();
    });

    await t.step("string query parameters declare their length limits", () => {
      const findings = new Findings();
      for (const { name, op } of operations) {
        for (const p of parameters(doc, op)) {
          if (p.in !== "query" || p.schema?.type !== "string" || p.schema.enum) continue;
          findings.check(
            typeof p.schema.maxLength === "number",
            `${name} ?${p.name}: no maxLength`,
          );
          findings.check(
            typeof p.schema.minLength === "number",
            `${name} ?${p.name}: no minLength`,
          );
        }
      }
      findings.assertNone();
    });

    await t.step("filters are not prefilled: no query example but a default", () => {
      const findings = new Findings();
      for (const { name, op } of operations) {
        for (const p of parameters(doc, op)) {
          if (p.in !== "query") continue;
          for (const holder of [p, p.schema ?? {}]) {
            const prefilled = "example" in holder || "examples" in holder;
            findings.check(
              !prefilled || holder.example === p.schema?.default,
              `${name} ?${p.name}: example ${JSON.stringify(holder.example)} would be sent`,
            );
          }
        }
      }
      findings.assertNone();
    });

    await t.step("every request body is required, and the service requires it", async () => {
      const findings = new Findings();
      for (const { method, path, name, op } of operations) {
        if (!op.requestBody) continue;
        findings.check(op.requestBody.required === true, `${name}: requestBody.required`);
        if (method !== "post" || path.includes("{")) continue;
        const res = await app.request("POST", path, { headers: admin });
        await res.body?.cancel();
        findings.check(res.status === 422, `${name} without a body: ${res.status}`);
      }
      findings.assertNone();
    });

    await t.step("item names that are only whitespace are declared invalid", async () => {
      for (const schemaName of ["CreateItem", "UpdateItem"]) {
        const name = deref(doc, doc.components.schemas[schemaName]).properties.name;
        assert(typeof name.pattern === "string", `${schemaName}.name: no pattern`);
        const pattern = new RegExp(name.pattern, "u");
        for (const blank of ["   ", "\t\n", "\u00a0\u2003", "\ufeff"]) {
          assert(!pattern.test(blank), `${schemaName}.name accepts ${JSON.stringify(blank)}`);
          const res = await app.request("POST", "/items", { json: { name: blank }, headers: auth });
          await expectProblem(res, 422);
        }
        assert(pattern.test(" a "), `${schemaName}.name refuses " a "`);
      }
    });

    await t.step("timestamps (every *_at member) are format date-time", () => {
      const findings = new Findings();
      for (const [where, schema] of schemasOf(doc)) {
        if (!schema.properties || typeof schema.properties !== "object") continue;
        for (const [key, value] of Object.entries(schema.properties as Record<string, Json>)) {
          if (!key.endsWith("_at")) continue;
          const resolved = deref(doc, value);
          findings.check(resolved.format === "date-time", `${where}.${key}: format date-time`);
        }
      }
      findings.assertNone();
    });

    await t.step("the RateLimit description says which 426 answers carry it", async () => {
      // Every 4xx documents the (optional) header; its description says where it is absent.
      const description: string = doc.components.headers.RateLimit.description;
      assert(/Public operations .* 426 included/s.test(description), description);
      assert(/need a token .* 401 and 426 answers .* do not carry it/s.test(description));
      const findings = new Findings();
      for (const { method, path, name, op } of operations) {
        if (!op.responses["426"]) continue;
        const secured = (op.security ?? []).some((r: Json) => Object.keys(r).length > 0);
        const res = await app.request(method.toUpperCase(), fill(path, 1), {
          headers: { ...(secured ? auth : {}), "X-Version": "0.1" },
        });
        await res.body?.cancel();
        findings.check(res.status === 426, `${name}: ${res.status}, not 426`);
        findings.check(
          (res.headers.get("ratelimit") === null) === secured,
          `${name} 426: RateLimit ${secured ? "sent" : "absent"}, unlike the description`,
        );
      }
      findings.assertNone();
    });

    await t.step("an OAuth 2 password flow stands beside every bearer requirement", async () => {
      const schemes = doc.components.securitySchemes;
      const oauth = Object.entries(schemes as Record<string, Json>).find(([, s]) =>
        s.type === "oauth2" && s.flows?.password
      );
      assert(oauth, "no OAuth 2 scheme with a password flow");
      const [oauthName, scheme] = oauth;
      assertEquals(scheme.flows.password.tokenUrl, "/auth/token");
      // Scalar's Refresh button posts the refresh grant here (RFC 6749 section 6).
      assertEquals(scheme.flows.password.refreshUrl, "/auth/token");
      assert(!/RFC ?8725|no `refreshUrl`/.test(scheme.description), scheme.description);
      const findings = new Findings();
      for (const { name, op } of operations) {
        for (const requirement of op.security ?? []) {
          const scopes = requirement.bearerAuth;
          if (!scopes) continue;
          const twin = (op.security as Json[]).find((r) => r[oauthName] !== undefined);
          findings.check(twin, `${name}: no ${oauthName} requirement`);
          findings.check(
            twin && JSON.stringify(twin[oauthName]) === JSON.stringify(scopes),
            `${name}: ${oauthName} scopes differ from bearerAuth's`,
          );
          for (const scope of scopes) {
            findings.check(
              scope in scheme.flows.password.scopes,
              `${name}: scope ${scope} not in the flow's scopes`,
            );
          }
        }
      }
      findings.assertNone();
      // What Swagger and Scalar send to the tokenUrl.
      const body = new URLSearchParams({
        grant_type: "password",
        username: user.username,
        password: user.password,
        scope: "",
      });
      const res = await app.request("POST", "/auth/token", {
        body: body.toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
      assertEquals(res.status, 200);
      const tokens = await res.json();
      assertEquals(tokens.token_type, "bearer");
      // What Scalar's Refresh button sends to the refreshUrl.
      const refreshed = await app.request("POST", scheme.flows.password.refreshUrl, {
        body: new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: tokens.refresh_token,
        }).toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
      assertEquals(refreshed.status, 200);
      assert((await refreshed.json()).refresh_token !== tokens.refresh_token, "rotated");
    });
  } finally {
    await app.close();
  }
});
