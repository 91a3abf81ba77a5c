/**
 * Every authenticated route against every kind of provider-token caller: a linked admin, a
 * linked user, a token limited to `items:read` (of a linked user) and a deactivated linked
 * user, on each database. Tokens are signed with the real provider's key, each cell for a new
 * identity, so destructive routes cannot leak into the next cell.
 */
import { assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin, type TestUser, uniqueUsername } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { startTestProvider, type TestProvider } from "./helpers/oidc-provider.ts";

type Caller = "linkedAdmin" | "linkedUser" | "readOnly" | "deactivated";
const CALLERS: readonly Caller[] = ["linkedAdmin", "linkedUser", "readOnly", "deactivated"];

/** The accounts and resources of one cell. */
interface World {
  token: string;
  selfId: number;
  ownItemId: number;
  other: TestUser;
  otherItemId: number;
  versionId: number;
}

interface Case {
  name: string;
  method: string;
  path: (w: World) => string;
  json?: (w: World) => unknown;
  expected: Record<Caller, number>;
}

/** What a caller of each kind gets: linked admin, linked user, read-only token. */
const expect = (admin: number, user: number, readOnly: number): Record<Caller, number> => ({
  linkedAdmin: admin,
  linkedUser: user,
  readOnly,
  deactivated: 401,
});

const CASES: Case[] = [
  { name: "GET /auth/me", method: "GET", path: () => "/auth/me", expected: expect(200, 200, 200) },
  {
    name: "POST /auth/logout (session tokens only)",
    method: "POST",
    path: () => "/auth/logout",
    expected: expect(403, 403, 403),
  },
  {
    name: "GET /auth/sessions (session tokens only)",
    method: "GET",
    path: () => "/auth/sessions",
    expected: expect(403, 403, 403),
  },
  {
    name: "DELETE /auth/sessions (session tokens only)",
    method: "DELETE",
    path: () => "/auth/sessions",
    expected: expect(403, 403, 403),
  },
  {
    name: "POST /users",
    method: "POST",
    path: () => "/users",
    json: () => ({ username: uniqueUsername("new"), role_id: 2 }),
    expected: expect(201, 403, 403),
  },
  { name: "GET /users", method: "GET", path: () => "/users", expected: expect(200, 403, 403) },
  {
    name: "GET /users/{self}",
    method: "GET",
    path: (w) => `/users/${w.selfId}`,
    expected: expect(200, 200, 403),
  },
  {
    name: "GET /users/{other}",
    method: "GET",
    path: (w) => `/users/${w.other.id}`,
    expected: expect(200, 403, 403),
  },
  {
    name: "PATCH /users/{self} username",
    method: "PATCH",
    path: (w) => `/users/${w.selfId}`,
    json: () => ({ username: uniqueUsername("renamed") }),
    expected: expect(200, 200, 403),
  },
  {
    name: "PATCH /users/{self} role_id (elevation)",
    method: "PATCH",
    path: (w) => `/users/${w.selfId}`,
    json: () => ({ role_id: 1 }),
    expected: expect(200, 403, 403),
  },
  {
    name: "DELETE /users/{other}",
    method: "DELETE",
    path: (w) => `/users/${w.other.id}`,
    expected: expect(204, 403, 403),
  },
  { name: "GET /roles (public)", method: "GET", path: () => "/roles", expected: all(200) },
  {
    name: "POST /items",
    method: "POST",
    path: () => "/items",
    json: () => ({ name: `item-${crypto.randomUUID()}` }),
    expected: expect(201, 201, 403),
  },
  { name: "GET /items", method: "GET", path: () => "/items", expected: expect(200, 200, 200) },
  {
    name: "GET /items/{other's}",
    method: "GET",
    path: (w) => `/items/${w.otherItemId}`,
    expected: expect(200, 200, 200),
  },
  {
    name: "PATCH /items/{own}",
    method: "PATCH",
    path: (w) => `/items/${w.ownItemId}`,
    json: () => ({ description: "changed" }),
    expected: expect(200, 200, 403),
  },
  {
    name: "PATCH /items/{other's}",
    method: "PATCH",
    path: (w) => `/items/${w.otherItemId}`,
    json: () => ({ description: "changed" }),
    expected: expect(200, 403, 403),
  },
  {
    name: "DELETE /items/{own}",
    method: "DELETE",
    path: (w) => `/items/${w.ownItemId}`,
    expected: expect(204, 204, 403),
  },
  {
    name: "DELETE /items/{other's}",
    method: "DELETE",
    path: (w) => `/items/${w.otherItemId}`,
    expected: expect(204, 403, 403),
  },
  {
    name: "POST /versions",
    method: "POST",
    path: () => "/versions",
    json: () => ({ version: `7.${crypto.randomUUID().slice(0, 8)}` }),
    expected: expect(201, 403, 403),
  },
  {
    name: "PATCH /versions/{id}",
    method: "PATCH",
    path: (w) => `/versions/${w.versionId}`,
    json: () => ({ deprecated: true }),
    expected: expect(200, 403, 403),
  },
];

function all(status: number): Record<Caller, number> {
  return { linkedAdmin: status, linkedUser: status, readOnly: status, deactivated: status };
}

async function json<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  assertEquals(res.status, status, text);
  return JSON.parse(text) as T;
}

async function world(t: TestApp, provider: TestProvider, caller: Caller): Promise<World> {
  const sub = `person-${crypto.randomUUID()}`;
  const roles = caller === "linkedAdmin" ? ["admin"] : ["user"];
  // A full token of the identity: links it and creates its own item.
  const full = await provider.mint({ sub, roles, preferred_username: uniqueUsername("sso") });
  const self = await json<{ id: number }>(
    await t.request("GET", "/auth/me", { headers: bearer(full) }),
    200,
  );
  const own = await json<{ id: number }>(
    await t.request("POST", "/items", { headers: bearer(full), json: { name: "own" } }),
    201,
  );
  const other = await createUser(t);
  const otherItem = await json<{ id: number }>(
    await t.request("POST", "/items", { headers: bearer(other.token), json: { name: "theirs" } }),
    201,
  );
  const admin = await loginAdmin(t);
  const version = await json<{ id: number }>(
    await t.request("POST", "/versions", {
      headers: bearer(admin.access_token),
      json: { version: `8.${crypto.randomUUID().slice(0, 8)}` },
    }),
    201,
  );
  let token = full;
  if (caller === "readOnly") {
    token = await provider.mint({ sub, roles, scope: "items:read" });
  } else if (caller === "deactivated") {
    const res = await t.request("DELETE", `/users/${self.id}`, {
      headers: bearer(admin.access_token),
    });
    assertEquals(res.status, 204);
  }
  return {
    token,
    selfId: self.id,
    ownItemId: own.id,
    other,
    otherItemId: otherItem.id,
    versionId: version.id,
  };
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] every authenticated route answers each provider-token caller as the contract says`, async (t) => {
    const provider = await startTestProvider({ clients: [{ id: "unused" }] });
    const app = await createTestApp(dialect, {
      env: { OIDC_ISSUER: provider.issuer, OIDC_AUDIENCE: provider.audience },
    });
    try {
      for (const c of CASES) {
        const summary = CALLERS.map((caller) => `${caller} ${c.expected[caller]}`).join(", ");
        await t.step(`${c.name}: ${summary}`, async () => {
          for (const caller of CALLERS) {
            const w = await world(app, provider, caller);
            const expected = c.expected[caller];
            const res = await app.request(c.method, c.path(w), {
              headers: bearer(w.token),
              ...(c.json ? { json: c.json(w) } : {}),
            });
            const label = `${c.name} as ${caller}`;
            if (expected >= 400) {
              const problem = await expectProblem(res, expected).catch((error) => {
                throw new Error(`${label}: ${error.message}`);
              });
              if (expected === 401) {
                assertEquals(
                  res.headers.get("www-authenticate"),
                  'Bearer error="invalid_token"',
                  label,
                );
              }
              if (caller === "readOnly" && expected === 403 && !c.name.includes("session")) {
                assertEquals(problem.code, "insufficient_scope", label);
              }
            } else {
              const text = await res.text();
              assertEquals(res.status, expected, `${label}: ${text}`);
            }
          }
        });
      }
    } finally {
      await app.close();
      await provider.stop();
    }
  });
}
