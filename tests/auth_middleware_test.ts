import { z } from "@hono/zod-openapi";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { jsonContent, problemResponses } from "@/http/openapi.ts";
import { invalidIdMessage } from "@/http/ids.ts";
import { defineRoute } from "@/http/router.ts";
import { bearerSecurity, requireAuth } from "@/middleware/authenticate.ts";
import { requireOwnerOrAdmin, requireRole } from "@/middleware/permissions.ts";

/** Owner ids of the test resources ("things"), by thing id. */
const owners = new Map<number, number>();

const getThing = defineRoute({
  method: "patch",
  path: "/__test/things/{thing_id}",
  middleware: [
    requireAuth(),
    requireOwnerOrAdmin({
      load: (_c, id) => Promise.resolve(owners.get(id)),
      notFound: "Thing not found",
    }),
  ] as const,
  security: bearerSecurity,
  request: {
    params: z.object({ thing_id: z.coerce.number().int().positive() }),
    body: {
      required: true,
      content: { "application/json": { schema: z.strictObject({ name: z.string().min(1) }) } },
    },
  },
  responses: {
    200: jsonContent(z.object({ id: z.number() }), "The thing"),
    ...problemResponses(401, 403, 404, 422),
  },
});

const adminOnly = defineRoute({
  method: "get",
  path: "/__test/admin-only",
  middleware: [requireAuth(), requireRole("admin")] as const,
  security: bearerSecurity,
  responses: {
    200: jsonContent(z.object({ ok: z.boolean() }), "OK"),
    ...problemResponses(401, 403),
  },
});

function mountTestRoutes(t: TestApp): void {
  t.app.route(
    "/",
    t.router()
      .openapi(getThing, (c) => c.json({ id: c.req.valid("param").thing_id }, 200))
      .openapi(adminOnly, (c) => c.json({ ok: true }, 200)),
  );
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] requireAuth() takes only an Authorization: Bearer header`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      const cases: Array<[string, string, Record<string, string>, number]> = [
        ["no header", "/auth/me", {}, 401],
        ["the Bearer scheme", "/auth/me", { Authorization: `Bearer ${user.token}` }, 200],
        ["the scheme in lower case", "/auth/me", { Authorization: `bearer ${user.token}` }, 200],
        ["Basic credentials", "/auth/me", {
          Authorization: `Basic ${btoa(`${user.username}:${user.password}`)}`,
        }, 401],
        ["another scheme", "/auth/me", { Authorization: `Token ${user.token}` }, 401],
        ["the bare token", "/auth/me", { Authorization: user.token }, 401],
        ["trailing garbage", "/auth/me", { Authorization: `Bearer ${user.token} x` }, 401],
        ["a token in the query string", `/auth/me?access_token=${user.token}`, {}, 401],
        ["a token in a cookie", "/auth/me", { Cookie: `access_token=${user.token}` }, 401],
        ["a token of the wrong shape", "/auth/me", { Authorization: "Bearer abc" }, 401],
        ["an unknown token", "/auth/me", { Authorization: `Bearer ${"a".repeat(43)}` }, 401],
      ];
      for (const [label, path, headers, status] of cases) {
        await t.step(`${label}: ${status}`, async () => {
          const res = await app.request("GET", path, { headers });
          if (status === 200) {
            assertEquals(res.status, 200, await res.text());
            return;
          }
          await expectProblem(res, 401);
          assert(res.headers.get("www-authenticate")?.startsWith("Bearer"));
        });
      }
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] deactivating a user kills their tokens on the next request`, async () => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      assertEquals(
        (await app.request("GET", "/auth/me", { headers: bearer(user.token) })).status,
        200,
      );
      await app.deps.db.execute("UPDATE users SET activated = 0 WHERE id = ?", [user.id]);
      await expectProblem(
        await app.request("GET", "/auth/me", { headers: bearer(user.token) }),
        401,
      );
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] requireOwnerOrAdmin() answers 401, 422, 404, 403 in that order`, async (t) => {
    const app = await createTestApp(dialect);
    mountTestRoutes(app);
    try {
      const owner = await createUser(app);
      const other = await createUser(app);
      const admin = await loginAdmin(app);
      owners.set(7, owner.id);
      const patch = (path: string, token?: string, json: unknown = { name: "x" }) =>
        app.request("PATCH", path, { json, headers: token ? bearer(token) : {} });
      await t.step("anonymous: 401", async () => {
        await expectProblem(await patch("/__test/things/7"), 401);
      });
      await t.step("a non-numeric id: 422 naming the parameter", async () => {
        const body = await expectProblem(await patch("/__test/things/abc", other.token), 422);
        assertEquals(body.errors, [{
          path: "path.thing_id",
          message: invalidIdMessage(),
        }]);
        await expectProblem(await patch("/__test/things/0", owner.token), 422);
        await expectProblem(await patch("/__test/things/99999999999999999999", owner.token), 422);
      });
      await t.step("a missing resource: 404 with the caller's detail", async () => {
        const body = await expectProblem(await patch("/__test/things/8", owner.token), 404);
        assertEquals(body.detail, "Thing not found");
      });
      await t.step("someone else's resource: 403, before the body is read", async () => {
        await expectProblem(await patch("/__test/things/7", other.token, { bogus: 1 }), 403);
      });
      await t.step("the owner and an admin pass", async () => {
        assertEquals((await patch("/__test/things/7", owner.token)).status, 200);
        assertEquals((await patch("/__test/things/7", admin.access_token)).status, 200);
        await expectProblem(await patch("/__test/things/7", owner.token, { bogus: 1 }), 422);
      });
    } finally {
      owners.clear();
      await app.close();
    }
  });

  Deno.test(`[${dialect}] requireRole("admin") answers 401 then 403`, async () => {
    const app = await createTestApp(dialect);
    mountTestRoutes(app);
    try {
      const user = await createUser(app);
      const admin = await loginAdmin(app);
      await expectProblem(await app.request("GET", "/__test/admin-only"), 401);
      const res = await app.request("GET", "/__test/admin-only", { headers: bearer(user.token) });
      assertEquals((await expectProblem(res, 403)).detail, "Requires the admin role");
      const ok = await app.request("GET", "/__test/admin-only", {
        headers: bearer(admin.access_token),
      });
      assertEquals(ok.status, 200);
    } finally {
      await app.close();
    }
  });
}

Deno.test("the OpenAPI document declares bearer security on every protected account route", async () => {
  const app = await createTestApp("sqlite");
  try {
    const doc = app.app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: { title: "items-api", version: "test" },
    });
    assertEquals(doc.components?.securitySchemes?.bearerAuth, {
      type: "http",
      scheme: "bearer",
      description: "An access token from POST /auth/token or POST /auth/refresh",
    });
    const expected: Record<string, boolean> = {
      "post /auth/token": false,
      "post /auth/refresh": false,
      "post /auth/logout": true,
      "get /auth/me": true,
      "get /auth/sessions": true,
      "delete /auth/sessions": true,
      "delete /auth/sessions/{session_id}": true,
      "post /users": true,
      "get /users": true,
      "get /users/{user_id}": true,
      "patch /users/{user_id}": true,
      "delete /users/{user_id}": true,
      "get /roles": false,
      "get /roles/{role_id}": false,
    };
    for (const [key, secured] of Object.entries(expected)) {
      const [method, path] = key.split(" ") as [string, string];
      const operation = (doc.paths?.[path] as Record<string, { security?: unknown }> | undefined)
        ?.[method];
      assert(operation, `${key} is missing from the document`);
      // Public operations say so explicitly (`security: []`), as tests/openapi_test.ts demands;
      // secured ones name their scopes (tests/auth_scopes_test.ts checks which).
      const security = operation.security as Array<Record<string, string[]>>;
      if (secured) assertEquals(Object.keys(security[0] ?? {}), ["bearerAuth"], key);
      else assertEquals(security, [], key);
    }
  } finally {
    await app.close();
  }
});
