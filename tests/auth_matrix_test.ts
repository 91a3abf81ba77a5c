/**
 * Every route of /auth, /users and /roles against every kind of caller: anonymous, user A,
 * user B and an admin, on each database. Each cell gets fresh accounts, so destructive routes
 * (logout, deactivation) cannot leak into the next cell.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin, type TestUser, uniqueUsername } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";

type Caller = "anonymous" | "userA" | "userB" | "admin";
const CALLERS: readonly Caller[] = ["anonymous", "userA", "userB", "admin"];

/** The accounts of one cell. */
interface World {
  a: TestUser;
  aSessionId: number;
  b: TestUser;
  adminId: number;
  adminToken: string;
}

interface Case {
  name: string;
  method: string;
  path: (w: World) => string;
  json?: (w: World) => unknown;
  expected: Record<Caller, number>;
}

const all = (status: number): Record<Caller, number> => ({
  anonymous: status,
  userA: status,
  userB: status,
  admin: status,
});

const CASES: Case[] = [
  {
    name: "POST /auth/token",
    method: "POST",
    path: () => "/auth/token",
    json: (w) => ({ username: w.a.username, password: w.a.password }),
    expected: all(200),
  },
  {
    name: "POST /auth/refresh",
    method: "POST",
    path: () => "/auth/refresh",
    json: (w) => ({ refresh_token: w.a.refreshToken }),
    expected: all(200),
  },
  {
    name: "POST /auth/logout",
    method: "POST",
    path: () => "/auth/logout",
    expected: { anonymous: 401, userA: 204, userB: 204, admin: 204 },
  },
  {
    name: "GET /auth/me",
    method: "GET",
    path: () => "/auth/me",
    expected: { anonymous: 401, userA: 200, userB: 200, admin: 200 },
  },
  {
    name: "GET /auth/sessions",
    method: "GET",
    path: () => "/auth/sessions",
    expected: { anonymous: 401, userA: 200, userB: 200, admin: 200 },
  },
  {
    name: "DELETE /auth/sessions/{A's session}",
    method: "DELETE",
    path: (w) => `/auth/sessions/${w.aSessionId}`,
    expected: { anonymous: 401, userA: 204, userB: 404, admin: 404 },
  },
  {
    name: "DELETE /auth/sessions",
    method: "DELETE",
    path: () => "/auth/sessions",
    expected: { anonymous: 401, userA: 204, userB: 204, admin: 204 },
  },
  {
    name: "POST /users",
    method: "POST",
    path: () => "/users",
    json: () => ({ username: uniqueUsername("new"), role_id: 2 }),
    expected: { anonymous: 401, userA: 403, userB: 403, admin: 201 },
  },
  {
    name: "GET /users",
    method: "GET",
    path: () => "/users",
    expected: { anonymous: 401, userA: 403, userB: 403, admin: 200 },
  },
  {
    name: "GET /users/{A}",
    method: "GET",
    path: (w) => `/users/${w.a.id}`,
    expected: { anonymous: 401, userA: 200, userB: 403, admin: 200 },
  },
  {
    name: "GET /users/{admin}",
    method: "GET",
    path: (w) => `/users/${w.adminId}`,
    expected: { anonymous: 401, userA: 403, userB: 403, admin: 200 },
  },
  {
    name: "PATCH /users/{A} username",
    method: "PATCH",
    path: (w) => `/users/${w.a.id}`,
    json: () => ({ username: uniqueUsername("renamed") }),
    expected: { anonymous: 401, userA: 200, userB: 403, admin: 200 },
  },
  {
    name: "PATCH /users/{A} role_id (elevation)",
    method: "PATCH",
    path: (w) => `/users/${w.a.id}`,
    json: () => ({ role_id: 1 }),
    expected: { anonymous: 401, userA: 403, userB: 403, admin: 200 },
  },
  {
    name: "PATCH /users/{A} activated",
    method: "PATCH",
    path: (w) => `/users/${w.a.id}`,
    json: () => ({ activated: false }),
    expected: { anonymous: 401, userA: 403, userB: 403, admin: 200 },
  },
  {
    name: "DELETE /users/{A}",
    method: "DELETE",
    path: (w) => `/users/${w.a.id}`,
    expected: { anonymous: 401, userA: 204, userB: 403, admin: 204 },
  },
  {
    name: "GET /roles",
    method: "GET",
    path: () => "/roles",
    expected: all(200),
  },
  {
    name: "GET /roles/{role_id}",
    method: "GET",
    path: () => "/roles/2",
    expected: all(200),
  },
];

async function world(t: TestApp): Promise<World> {
  const a = await createUser(t);
  const b = await createUser(t);
  const sessions = await t.request("GET", "/auth/sessions", { headers: bearer(a.token) });
  const [session] = await sessions.json() as Array<{ id: number }>;
  assert(session, "user A has a session");
  const admin = await loginAdmin(t);
  return { a, aSessionId: session.id, b, adminId: admin.user_id, adminToken: admin.access_token };
}

function tokenOf(w: World, caller: Caller): string | undefined {
  switch (caller) {
    case "anonymous":
      return undefined;
    case "userA":
      return w.a.token;
    case "userB":
      return w.b.token;
    case "admin":
      return w.adminToken;
  }
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] every /auth, /users and /roles route answers each caller as the contract says`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      for (const c of CASES) {
        const summary = CALLERS.map((caller) => `${caller} ${c.expected[caller]}`).join(", ");
        await t.step(`${c.name}: ${summary}`, async () => {
          for (const caller of CALLERS) {
            const w = await world(app);
            const token = tokenOf(w, caller);
            const expected = c.expected[caller];
            const res = await app.request(c.method, c.path(w), {
              headers: token ? bearer(token) : {},
              ...(c.json ? { json: c.json(w) } : {}),
            });
            const label = `${c.name} as ${caller}`;
            if (expected >= 400) {
              const problem = await expectProblem(res, expected).catch((error) => {
                throw new Error(`${label}: ${error.message}`);
              });
              if (expected === 401) {
                assertEquals(res.headers.get("www-authenticate"), "Bearer", label);
                assertEquals(problem.code, "unauthorized", label);
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
    }
  });
}
