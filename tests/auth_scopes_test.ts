/**
 * Scopes and credential kinds, through the authenticator extension point: a test credential
 * `scoped.<user id>.<scope,scope>` resolves to that user with exactly those scopes, the way a
 * provider JWT or an API key does.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import type { TokenAuthenticator } from "@/middleware/authenticator.ts";
import { scopeCatalog } from "@/http/scopes.ts";
import { MODULES } from "@/modules.ts";
import { findUserById } from "@/modules/users/users.repository.ts";

/** The app's scope vocabulary, assembled from its modules' descriptors. */
const scopes = scopeCatalog(MODULES);

const SCOPED = /^scoped\.(\d+)\.([a-z:,]*)$/;

/** Resolves `scoped.<id>.<scopes>` to the user with that id (any state) and those scopes. */
const scopedCredentials: TokenAuthenticator = {
  method: "api_key",
  accepts: (token) => SCOPED.test(token),
  async authenticate(token, db) {
    const [, id, list] = SCOPED.exec(token)!;
    const user = await findUserById(db, Number(id));
    if (!user) return undefined;
    return {
      user: {
        id: user.id,
        username: user.username,
        roleId: user.role_id,
        role: user.role,
        activated: user.activated,
      },
      method: "api_key",
      scopes: list!.split(",").filter((name) => scopes.has(name)),
      credentialId: `test-${id}`,
    };
  },
};

function scoped(userId: number, ...scopes: string[]): Record<string, string> {
  return bearer(`scoped.${userId}.${scopes.join(",")}`);
}

Deno.test("the modules' scopes give users every scope but versions:write, and admins all", () => {
  assertEquals(scopes.names, [
    "audit:read",
    "items:read",
    "items:write",
    "users:read",
    "users:write",
    "versions:write",
  ]);
  assertEquals([...scopes.ofRole("admin")].sort(), [...scopes.names].sort());
  assertEquals(scopes.ofRole("user").includes("versions:write"), false);
  assertEquals(scopes.ofRole("user").includes("items:write"), true);
});

Deno.test("a scope claim keeps known scopes once and ignores the rest", () => {
  assertEquals(scopes.parse("openid items:read  items:read users:write profile"), [
    "items:read",
    "users:write",
  ]);
  assertEquals(scopes.parse(""), []);
});

Deno.test("a scope defined by two modules is refused when the vocabulary is assembled", () => {
  const twice = { scopes: { "items:read": { description: "x", roles: ["user" as const] } } };
  let message = "";
  try {
    scopeCatalog([twice, twice]);
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message, 'Scope "items:read" is defined twice');
});

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] a credential may call only the routes its scopes cover`, async (t) => {
    const app: TestApp = await createTestApp(dialect, { authenticators: [scopedCredentials] });
    try {
      const alice = await createUser(app);
      const admin = await createUser(app, { role: "admin" });

      await t.step("items:read lists and reads items", async () => {
        const res = await app.request("GET", "/items", { headers: scoped(alice.id, "items:read") });
        assertEquals(res.status, 200);
      });

      await t.step(
        "items:read alone cannot create: 403 insufficient_scope, nothing created",
        async () => {
          const res = await app.request("POST", "/items", {
            headers: scoped(alice.id, "items:read"),
            json: { name: "should-not-exist" },
          });
          const problem = await expectProblem(res, 403);
          assertEquals(problem.code, "insufficient_scope");
          assertEquals(
            res.headers.get("www-authenticate"),
            'Bearer error="insufficient_scope", scope="items:write"',
          );
          const list = await app.request("GET", "/items?name=should-not-exist", {
            headers: bearer(alice.token),
          });
          assertEquals((await list.json()).total, 0);
        },
      );

      await t.step("items:write creates", async () => {
        const res = await app.request("POST", "/items", {
          headers: scoped(alice.id, "items:write"),
          json: { name: "made-with-a-scope" },
        });
        assertEquals(res.status, 201);
      });

      await t.step("no scope at all reaches only scope-free routes", async () => {
        const me = await app.request("GET", "/auth/me", { headers: scoped(alice.id) });
        assertEquals(me.status, 200);
        const items = await app.request("GET", "/items", { headers: scoped(alice.id) });
        assertEquals((await expectProblem(items, 403)).code, "insufficient_scope");
      });

      await t.step("a scope beyond the user's role is not granted", async () => {
        const res = await app.request("POST", "/versions", {
          headers: scoped(alice.id, "versions:write"),
          json: { version: "9.9.9" },
        });
        assertEquals((await expectProblem(res, 403)).code, "insufficient_scope");
      });

      await t.step("an admin's scope still goes through the role check", async () => {
        const res = await app.request("GET", "/users", { headers: scoped(admin.id, "users:read") });
        assertEquals(res.status, 200);
        const denied = await app.request("GET", "/users", {
          headers: scoped(admin.id, "items:read"),
        });
        assertEquals((await expectProblem(denied, 403)).code, "insufficient_scope");
      });

      await t.step("session-only routes refuse other kinds of credential with 403", async () => {
        for (
          const [method, path] of [
            ["GET", "/auth/sessions"],
            ["DELETE", "/auth/sessions"],
            ["POST", "/auth/logout"],
          ] as const
        ) {
          const res = await app.request(method, path, {
            headers: scoped(alice.id, ...scopes.names),
          });
          await expectProblem(res, 403);
        }
        // The session token itself still works there.
        const own = await app.request("GET", "/auth/sessions", { headers: bearer(alice.token) });
        assertEquals(own.status, 200);
      });

      await t.step("session tokens carry every scope of the role", async () => {
        const res = await app.request("POST", "/items", {
          headers: bearer(alice.token),
          json: { name: "session-made" },
        });
        assertEquals(res.status, 201);
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] every secured operation lists its scopes in the document`, async () => {
    const app = await createTestApp(dialect);
    try {
      const doc = await (await app.request("GET", "/openapi.json")).json();
      const expected: Record<string, string[]> = {
        "post /items": ["items:write"],
        "get /items": ["items:read"],
        "get /items/{item_id}": ["items:read"],
        "patch /items/{item_id}": ["items:write"],
        "delete /items/{item_id}": ["items:write"],
        "get /users": ["users:read"],
        "post /users": ["users:write"],
        "post /versions": ["versions:write"],
        "get /auth/me": [],
      };
      for (const [key, scopes] of Object.entries(expected)) {
        const [method, path] = key.split(" ");
        const op = doc.paths[path!]?.[method!];
        assert(op, `${key} is documented`);
        assertEquals(op.security[0].bearerAuth, scopes, key);
      }
    } finally {
      await app.close();
    }
  });
}
