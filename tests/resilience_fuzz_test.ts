/**
 * Property-based fuzzing of every route in the OpenAPI document with fast-check: random and
 * malformed path parameters, query strings, bodies (wrong types, huge strings, deep nesting,
 * unicode, nulls, prototype keys) and headers (X-Version, Authorization, Content-Type).
 *
 * Properties: never a 5xx; every error is problem+json whose `status` matches; and, fuzzing
 * as an ordinary user or anonymously, no row the caller may not change ever changes (other
 * users, their items and sessions, roles, versions). A second run fuzzes as an admin: no 5xx,
 * and an active admin always remains.
 *
 * Seeded and bounded: `FUZZ_SEED` (printed) and `FUZZ_RUNS` (default 2000 per property) pick
 * the run; `deno task fuzz` runs longer.
 */
// deno-lint-ignore no-import-prefix -- test-only: kept out of deno.json so the service never fetches it (docs/decisions.md)
import fc from "npm:fast-check@^4.10.2";
import type { Database } from "@/db/database.ts";
import { assert, AssertionError } from "./helpers/assert.ts";
import { createTestApp, TEST_ADMIN, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, login, type TestUser } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") || "20_241_120".replaceAll("_", ""));
const RUNS = Number(Deno.env.get("FUZZ_RUNS") || "2000");
console.log(`fuzz: seed ${SEED}, ${RUNS} runs per property (set FUZZ_SEED / FUZZ_RUNS to change)`);

/** Rate limits far above what the fuzzer sends: it probes the routes, not the limiter. */
const ENV = {
  RATE_LIMIT_LOGIN_MAX: "1000000",
  RATE_LIMIT_LOGIN_IP_MAX: "1000000",
  RATE_LIMIT_API_MAX: "100000000",
  BODY_LIMIT_BYTES: "65536",
};
const BODY_LIMIT = Number(ENV.BODY_LIMIT_BYTES);

// ---------------------------------------------------------------------------------------------
// The OpenAPI document, reduced to what the fuzzer needs

interface SchemaObject {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, SchemaObject>;
  enum?: unknown[];
  anyOf?: SchemaObject[];
  oneOf?: SchemaObject[];
}

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: Array<{ name: string; schema: SchemaObject }>;
  bodyTypes: string[];
  bodyFields: Array<{ name: string; schema: SchemaObject }>;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, {
      parameters?: Array<{ in: string; name: string; schema?: SchemaObject }>;
      requestBody?: { content: Record<string, { schema?: SchemaObject }> };
    }>
  >;
  components?: { schemas?: Record<string, SchemaObject> };
}

function resolve(doc: OpenApiDocument, schema: SchemaObject | undefined): SchemaObject {
  let current = schema ?? {};
  while (current.$ref) {
    const name = current.$ref.replace("#/components/schemas/", "");
    current = doc.components?.schemas?.[name] ?? {};
  }
  return current;
}

function operationsOf(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const parameters = op.parameters ?? [];
      const content = op.requestBody?.content ?? {};
      const bodySchema = resolve(doc, Object.values(content)[0]?.schema);
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === "path").map((p) => p.name),
        queryParams: parameters.filter((p) => p.in === "query").map((p) => ({
          name: p.name,
          schema: resolve(doc, p.schema),
        })),
        bodyTypes: Object.keys(content),
        bodyFields: Object.entries(bodySchema.properties ?? {}).map(([name, schema]) => ({
          name,
          schema: resolve(doc, schema),
        })),
      });
    }
  }
  return operations;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Ids the fuzzer aims at: other users' rows (never changeable) and its own. */
interface Targets {
  ids: number[];
  usernames: string[];
  passwords: string[];
}

const NASTY_STRINGS = [
  "",
  " ",
  "0",
  "-1",
  "1.5",
  "1e3",
  "NaN",
  "Infinity",
  "null",
  "true",
  "[]",
  "{}",
  "%",
  "%00",
  "%ZZ",
  "%E0%A4%A",
  "../../etc/passwd",
  "' OR 1=1 --",
  '"; DROP TABLE items; --',
  "\u0000",
  "\ud800",
  "\udfff\ud800",
  "😀",
  "İı",
  "ß",
  "\u202e",
  "<script>alert(1)</script>",
  "${jndi:ldap://x}",
  "%s%n",
  "\\",
  "_",
  "%_%",
  "!%",
  "9".repeat(25),
  "4294967296",
  "9007199254740993",
  "-0",
  "0x10",
  " 1",
  "1 ",
  "１",
  "٣",
  "a".repeat(300),
  "__proto__",
  "constructor",
];

const HEADER_CHARS = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).concat(
  ["\t", "é", "ÿ", "\u0080"],
);

/** Header values a Request accepts: Latin-1, no CR, LF or NUL. */
const headerText = (maxLength = 40) =>
  fc.string({ unit: fc.constantFrom(...HEADER_CHARS), maxLength });

const nastyString = fc.constantFrom(...NASTY_STRINGS);
const anyString = fc.oneof(
  { weight: 3, arbitrary: nastyString },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
);
const anyNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 32, 2 ** 53 + 2, 1e308, -1e308, 1.5, -0),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: anyString },
  { weight: 2, arbitrary: anyNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** A value for one typed slot: usually plausible for its schema, often not. */
function valueFor(schema: SchemaObject, targets: Targets): fc.Arbitrary<unknown> {
  const types = [schema.type, ...(schema.anyOf ?? []).map((s) => s.type)].flat();
  const plausible: Array<fc.Arbitrary<unknown>> = [];
  if (schema.enum) plausible.push(fc.constantFrom(...schema.enum));
  if (types.includes("integer") || types.includes("number")) {
    plausible.push(fc.constantFrom(...targets.ids), fc.integer({ min: -5, max: 1_000 }));
  }
  if (types.includes("boolean")) plausible.push(fc.boolean());
  if (types.includes("string")) {
    plausible.push(
      fc.constantFrom(...targets.usernames, ...targets.passwords),
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.constantFrom(...targets.ids.map(String)),
    );
  }
  if (plausible.length === 0) return anyValue;
  return fc.oneof({ weight: 3, arbitrary: fc.oneof(...plausible) }, {
    weight: 2,
    arbitrary: anyValue,
  });
}

type BodySpec =
  | { kind: "none" }
  | { kind: "json"; value: unknown }
  | { kind: "text"; text: string }
  | { kind: "form"; fields: Array<[string, string]> }
  | { kind: "huge"; field: string; size: number }
  | { kind: "deep"; field: string; depth: number };

function bodyFor(op: Operation, targets: Targets): fc.Arbitrary<BodySpec> {
  const names = op.bodyFields.map((f) => f.name);
  const fieldName = fc.oneof(
    fc.constantFrom(...(names.length ? names : ["name"])),
    fc.constantFrom("role_id", "user_id", "activated", "id", "__proto__", "constructor"),
    anyString,
  );
  const nearValid = fc.tuple(
    fc.record(
      Object.fromEntries(op.bodyFields.map((f) => [f.name, valueFor(f.schema, targets)])),
      { requiredKeys: [] },
    ),
    // Now and then a field the schema does not know (a strict object answers 422).
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.tuple(fieldName, anyValue) },
    ),
  ).map(([value, extra]): BodySpec => {
    const body: Record<string, unknown> = { ...value };
    if (extra) Object.defineProperty(body, extra[0], { value: extra[1], enumerable: true });
    return { kind: "json", value: body };
  });
  const weighted = (weight: number, arbitrary: fc.Arbitrary<BodySpec>) => ({ weight, arbitrary });
  const json = fc.jsonValue({ maxDepth: 4 }).map((value): BodySpec => ({ kind: "json", value }));
  const malformed = fc.oneof(
    anyString,
    fc.constantFrom('{"name":', "\ufeff{}", "{'a':1}", '{"a":1}{"b":2}', "[", "nul", "{}}"),
  ).map((text): BodySpec => ({ kind: "text", text }));
  const form = fc.array(fc.tuple(fieldName, anyString), { maxLength: 4 })
    .map((fields): BodySpec => ({ kind: "form", fields }));
  const huge = fc.tuple(
    fieldName,
    fc.constantFrom(256, 10_001, 60_000, BODY_LIMIT + 1, 4 * BODY_LIMIT),
  ).map(([field, size]): BodySpec => ({ kind: "huge", field, size }));
  const deep = fc.tuple(fieldName, fc.constantFrom(64, 1_000, 10_000, 30_000))
    .map(([field, depth]): BodySpec => ({ kind: "deep", field, depth }));
  return fc.oneof(
    weighted(8, nearValid),
    weighted(2, json),
    weighted(2, malformed),
    weighted(1, form),
    weighted(1, huge),
    weighted(1, deep),
    weighted(1, fc.constant({ kind: "none" })),
  );
}

type AuthSpec =
  | { kind: "actor"; scheme: string }
  | { kind: "raw"; value: string }
  | { kind: "none" };

const authSpec: fc.Arbitrary<AuthSpec> = fc.oneof(
  { weight: 10, arbitrary: fc.constant({ kind: "actor" as const, scheme: "Bearer" }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("bearer", "BEARER", "Bearer ", "Basic", "Token").map((scheme) => ({
      kind: "actor" as const,
      scheme,
    })),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_-]{43}$/).map((t) => `Bearer ${t}`),
      headerText(60).map((t) => `Bearer ${t}`),
      headerText(60),
      fc.constant(`Basic ${btoa(`${TEST_ADMIN.username}:${TEST_ADMIN.password}`)}`),
    ).map((value) => ({ kind: "raw" as const, value })),
  },
);

/** Mostly absent or current (so requests get past the gate), sometimes stale or junk. */
const versionHeader: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 12, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: fc.constant("1.0") },
  {
    weight: 1,
    arbitrary: fc.constantFrom("0.1", "0.8", "1.0.0", " 1.0", "1.0 ", "9.9", "", "latest"),
  },
  { weight: 1, arbitrary: headerText(20) },
);

const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "application/json; charset=latin1",
      "APPLICATION/JSON",
      "application/merge-patch+json",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "text/plain",
      "application/xml",
      "",
    ),
    headerText(30),
  ),
  { freq: 6 },
);

/** A path segment: an id aimed at someone's row, or junk; encoded, or raw when it can be. */
function pathSegment(targets: Targets): fc.Arbitrary<string> {
  return fc.tuple(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...targets.ids).map(String) },
      { weight: 1, arbitrary: fc.integer().map(String) },
      { weight: 3, arbitrary: anyString },
    ),
    fc.boolean(),
  ).map(([value, raw]) =>
    raw && /^[^/?#\s]*$/.test(value) && value !== "" && value !== "." && value !== ".."
      ? value
      : encodeURIComponent(value.replace(/[\ud800-\udfff]/g, "\ufffd")) || "%20"
  );
}

function queryFor(op: Operation, targets: Targets): fc.Arbitrary<string> {
  const known = op.queryParams.map((p) =>
    fc.option(fc.tuple(fc.constant(p.name), valueFor(p.schema, targets)), { freq: 2 })
  );
  const extra = fc.array(fc.tuple(anyString, anyValue), { maxLength: 2 });
  const junk = fc.option(fc.constantFrom("&&", "=", "a=%ZZ", "limit=1&limit=2", "page[]=1", "%"), {
    freq: 5,
  });
  return fc.tuple(fc.tuple(...known), extra, junk).map(([pairs, more, rawJunk]) => {
    const parts = [...pairs.filter((p) => p !== null), ...more].map(([k, v]) =>
      `${encodeURIComponent(String(k).replace(/[\ud800-\udfff]/g, ""))}=${
        encodeURIComponent(
          (typeof v === "string" ? v : JSON.stringify(v) ?? "").replace(/[\ud800-\udfff]/g, ""),
        )
      }`
    );
    if (rawJunk) parts.push(rawJunk);
    return parts.length ? `?${parts.join("&")}` : "";
  });
}

interface FuzzRequest {
  operation: string;
  method: string;
  url: string;
  auth: AuthSpec;
  version: string | null;
  contentType: string | null;
  body: BodySpec;
}

function requestArbitrary(operations: Operation[], targets: Targets): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...operations).chain((op) => {
    const segments = fc.tuple(...op.pathParams.map(() => pathSegment(targets)));
    return fc.record({
      operation: fc.constant(`${op.method} ${op.path}`),
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(op.method) },
        { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE") },
      ),
      url: fc.tuple(segments, queryFor(op, targets)).map(([values, query]) => {
        let i = 0;
        return op.path.replace(/\{[^}]+\}/g, () => values[i++]!) + query;
      }),
      auth: authSpec,
      version: versionHeader,
      contentType: op.bodyTypes.length
        ? fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom(...op.bodyTypes) },
          { weight: 2, arbitrary: contentType },
        )
        : contentType,
      body: op.bodyTypes.length ? bodyFor(op, targets) : fc.oneof(
        { weight: 4, arbitrary: fc.constant({ kind: "none" as const }) },
        { weight: 1, arbitrary: bodyFor(op, targets) },
      ),
    });
  });
}

function materializeBody(body: BodySpec): string | undefined {
  switch (body.kind) {
    case "none":
      return undefined;
    case "json":
      return JSON.stringify(body.value) ?? "null";
    case "text":
      return body.text;
    case "form":
      return new URLSearchParams(
        body.fields.map((
          [k, v],
        ) => [k.replace(/[\ud800-\udfff]/g, ""), v.replace(/[\ud800-\udfff]/g, "")]),
      ).toString();
    case "huge":
      return JSON.stringify({ [body.field]: "x".repeat(body.size) });
    case "deep":
      return `{${JSON.stringify(body.field)}:${"[".repeat(body.depth)}${"]".repeat(body.depth)}}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Running one request and checking the answer

/** The caller the fuzzer acts as; replaced when it logs itself out or deletes itself. */
interface Actor {
  user: TestUser;
  token: string;
}

async function send(t: TestApp, req: FuzzRequest, actor: Actor): Promise<Response> {
  const headers: Record<string, string> = {};
  if (req.auth.kind === "actor") headers.Authorization = `${req.auth.scheme} ${actor.token}`;
  if (req.auth.kind === "raw") headers.Authorization = req.auth.value;
  if (req.version !== null) headers["X-Version"] = req.version;
  if (req.contentType !== null) headers["Content-Type"] = req.contentType;
  const body = materializeBody(req.body);
  return await t.app.request(req.url, {
    method: req.method,
    headers,
    body: req.method === "GET" ? undefined : body,
  });
}

/** Never a 5xx; errors are problem+json with a matching status; JSON bodies parse. */
async function checkAnswer(req: FuzzRequest, res: Response): Promise<void> {
  const text = await res.text();
  const where = `${req.method} ${req.url.slice(0, 200)} (${req.operation}) -> ${res.status}`;
  if (res.status >= 500) throw new AssertionError(`${where}: ${text.slice(0, 500)}`);
  const type = res.headers.get("content-type") ?? "";
  if (res.status >= 400) {
    assert(type.startsWith("application/problem+json"), `${where}: content-type "${type}"`);
    const problem = JSON.parse(text) as Record<string, unknown>;
    assert(problem.status === res.status, `${where}: problem status ${problem.status}`);
    for (const key of ["type", "title", "detail", "code", "request_id"]) {
      assert(typeof problem[key] === "string", `${where}: problem lacks ${key}: ${text}`);
    }
  } else if (type.includes("json") && text !== "") {
    JSON.parse(text);
  }
}

// ---------------------------------------------------------------------------------------------
// What a caller may not change

/** Every row outside the actors' own: other users, their items and sessions, roles, versions. */
async function protectedRows(db: Database, actorIds: readonly number[]): Promise<string> {
  const marks = actorIds.map(() => "?").join(", ");
  const tables = await Promise.all([
    db.query(`SELECT * FROM users WHERE id NOT IN (${marks}) ORDER BY id`, actorIds),
    db.query(`SELECT * FROM items WHERE user_id NOT IN (${marks}) ORDER BY id`, actorIds),
    db.query(`SELECT * FROM sessions WHERE user_id NOT IN (${marks}) ORDER BY id`, actorIds),
    db.query("SELECT * FROM roles ORDER BY id"),
    db.query("SELECT * FROM versions ORDER BY id"),
  ]);
  return JSON.stringify(tables, (_, v) => (typeof v === "bigint" ? String(v) : v));
}

async function activeAdmins(db: Database): Promise<number> {
  const rows = await db.query<{ n: number }>(
    "SELECT COUNT(*) AS n FROM users WHERE role_id = 1 AND activated = ?",
    [true],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Whether the actor's token still works; replace the actor if not. */
async function ensureActor(
  t: TestApp,
  actor: Actor,
  actorIds: number[],
  role: "user" | "admin",
): Promise<void> {
  const res = await t.request("GET", "/auth/me", { headers: bearer(actor.token) });
  await res.body?.cancel();
  if (res.status === 200) return;
  // Logged out, deleted or (an admin) demoted itself: carry on as a fresh account.
  actor.user = await createUser(t, { role });
  actor.token = actor.user.token;
  actorIds.push(actor.user.id);
}

async function documentOf(t: TestApp): Promise<OpenApiDocument> {
  const res = await t.request("GET", "/openapi.json");
  assert(res.status === 200, `GET /openapi.json answered ${res.status}`);
  return await res.json() as OpenApiDocument;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] fuzzing every route as a user or anonymously: no 5xx, problem+json errors, no change to others' data`, async () => {
    const t = await createTestApp(dialect, { env: ENV });
    try {
      const doc = await documentOf(t);
      const operations = operationsOf(doc);
      assert(operations.length >= 20, `only ${operations.length} operations in the document`);

      // The victim: rows the fuzzer must never change.
      const victim = await createUser(t);
      await login(t, victim.username, victim.password);
      const victimItems: number[] = [];
      for (const name of ["alpha", "beta", "gamma"]) {
        const res = await t.request("POST", "/items", {
          json: { name, description: "owned by the victim" },
          headers: bearer(victim.token),
        });
        victimItems.push((await res.json() as { id: number }).id);
      }
      const mallory = await createUser(t);
      const own = await t.request("POST", "/items", {
        json: { name: "mallory's" },
        headers: bearer(mallory.token),
      });
      const ownItem = (await own.json() as { id: number }).id;
      const [victimSession] = await t.deps.db.query<{ id: number }>(
        "SELECT id FROM sessions WHERE user_id = ? ORDER BY id LIMIT 1",
        [victim.id],
      );

      const actor: Actor = { user: mallory, token: mallory.token };
      const actorIds = [mallory.id];
      const targets: Targets = {
        ids: [1, 2, victim.id, mallory.id, ...victimItems, ownItem, Number(victimSession!.id)],
        usernames: [victim.username, mallory.username, TEST_ADMIN.username],
        passwords: [mallory.password, "wrong-password"],
      };
      const before = await protectedRows(t.deps.db, actorIds);
      const statuses = new Map<number, number>();

      await fc.assert(
        fc.asyncProperty(requestArbitrary(operations, targets), async (req) => {
          const res = await send(t, req, actor);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          await checkAnswer(req, res);
          if (req.method !== "GET" && res.status < 300) {
            await ensureActor(t, actor, actorIds, "user");
          }
          const after = await protectedRows(t.deps.db, actorIds);
          if (after !== before) {
            throw new AssertionError(
              `${req.method} ${req.url} (${res.status}) changed rows the caller may not change`,
            );
          }
        }),
        // No shrinking: the database carries state from run to run, so a shrunk case would mislead.
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
      console.log(`[${dialect}] user fuzz statuses: ${formatStatuses(statuses)}`);
      // The fuzzer got past the outer checks often enough to mean something.
      assert((statuses.get(200) ?? 0) + (statuses.get(201) ?? 0) > RUNS / 20, "too few 2xx");
      assert((statuses.get(422) ?? 0) > RUNS / 20, "too few 422");
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] fuzzing every route as an admin: no 5xx, problem+json errors, an active admin remains`, async () => {
    const t = await createTestApp(dialect, { env: ENV });
    try {
      const operations = operationsOf(await documentOf(t));
      const admin = await login(t, TEST_ADMIN.username, TEST_ADMIN.password);
      const someone = await createUser(t);
      const item = await t.request("POST", "/items", {
        json: { name: "someone's" },
        headers: bearer(someone.token),
      });
      const itemId = (await item.json() as { id: number }).id;
      const actor: Actor = {
        user: { ...someone, id: 1, username: TEST_ADMIN.username, role: "admin" },
        token: admin.access_token,
      };
      const targets: Targets = {
        ids: [1, 2, 9, someone.id, itemId],
        usernames: [someone.username, TEST_ADMIN.username],
        passwords: [someone.password, "wrong-password"],
      };
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requestArbitrary(operations, targets), async (req) => {
          const res = await send(t, req, actor);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          await checkAnswer(req, res);
          if (req.method !== "GET" && res.status < 300) {
            await ensureActor(t, actor, [], "admin");
          }
          assert((await activeAdmins(t.deps.db)) >= 1, `${req.method} ${req.url} left no admin`);
        }),
        { seed: SEED + 1, numRuns: Math.ceil(RUNS / 2), endOnFailure: true },
      );
      console.log(`[${dialect}] admin fuzz statuses: ${formatStatuses(statuses)}`);
    } finally {
      await t.close();
    }
  });
}

function formatStatuses(statuses: Map<number, number>): string {
  return [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}x${n}`).join(" ");
}
