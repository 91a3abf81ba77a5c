import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, TEST_ADMIN, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, login, loginAdmin } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";

async function patch(t: TestApp, id: number, token: string, json: unknown): Promise<Response> {
  return await t.request("PATCH", `/users/${id}`, { json, headers: bearer(token) });
}

async function meStatus(t: TestApp, token: string): Promise<number> {
  const res = await t.request("GET", "/auth/me", { headers: bearer(token) });
  await res.body?.cancel();
  return res.status;
}

async function loginStatus(t: TestApp, username: string, password: string): Promise<number> {
  const res = await t.request("POST", "/auth/token", { json: { username, password } });
  await res.body?.cancel();
  return res.status;
}

async function userRow(t: TestApp, id: number): Promise<Record<string, unknown>> {
  const rows = await t.deps.db.query<Record<string, unknown>>(
    "SELECT id, username, password_hash, role_id, activated, created_at, updated_at FROM users WHERE id = ?",
    [id],
  );
  return rows[0]!;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] PATCH /users/{id} by the user: username and password only`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      const other = await createUser(app);
      await t.step("renaming: 200, updated_at moves", async () => {
        app.clock.advance(1_000);
        const res = await patch(app, user.id, user.token, { username: `${user.username}-x` });
        assertEquals(res.status, 200);
        const body = await res.json();
        assertEquals(body.username, `${user.username}-x`);
        assert(body.updated_at > body.created_at);
        user.username = body.username;
      });
      await t.step("renaming to a taken name, in any case: 409", async () => {
        const res = await patch(app, user.id, user.token, {
          username: other.username.toUpperCase(),
        });
        assertEquals((await expectProblem(res, 409)).detail, "Username already taken");
      });
      await t.step("role_id or activated: 403 and the row is unchanged", async () => {
        const before = await userRow(app, user.id);
        for (
          const json of [{ role_id: 1 }, { activated: false }, { role_id: 2, username: "zz-top" }]
        ) {
          const res = await patch(app, user.id, user.token, json);
          assertEquals(
            (await expectProblem(res, 403)).detail,
            "Only admins may change role_id or activated",
          );
        }
        assertEquals(await userRow(app, user.id), before);
      });
      await t.step("mass assignment: unknown fields are 422 and the row is unchanged", async () => {
        const before = await userRow(app, user.id);
        for (
          const json of [
            { id: 999 },
            { role: "admin" },
            { is_admin: true },
            { password_hash: "$argon2id$v=19$m=8,t=1,p=1$AAAA$AAAA" },
            { created_at: "2000-01-01T00:00:00Z" },
            { username: "fine-name", user_id: 1 },
          ]
        ) {
          await expectProblem(await patch(app, user.id, user.token, json), 422);
        }
        assertEquals(await userRow(app, user.id), before);
      });
      await t.step("another user's account: 403", async () => {
        await expectProblem(await patch(app, other.id, user.token, { username: "stolen" }), 403);
      });
      await t.step("an empty body changes nothing", async () => {
        const before = await userRow(app, user.id);
        assertEquals((await patch(app, user.id, user.token, {})).status, 200);
        assertEquals(await userRow(app, user.id), before);
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] changing one's own password needs the current one and revokes other sessions`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      const laptop = await login(app, user.username, user.password);
      await t.step("without current_password: 422", async () => {
        const body = await expectProblem(
          await patch(app, user.id, user.token, { password: "a new password" }),
          422,
        );
        assertEquals((body.errors as Array<{ path: string }>)[0]!.path, "body.current_password");
      });
      await t.step("current_password alone: 422", async () => {
        await expectProblem(
          await patch(app, user.id, user.token, { current_password: user.password }),
          422,
        );
      });
      await t.step("a new password outside 8..128: 422", async () => {
        for (const password of ["short", "x".repeat(129)]) {
          await expectProblem(
            await patch(app, user.id, user.token, { password, current_password: user.password }),
            422,
          );
        }
      });
      await t.step("a wrong current_password: 403, nothing changes", async () => {
        const before = await userRow(app, user.id);
        const res = await patch(app, user.id, user.token, {
          password: "a new password",
          current_password: "not the password",
        });
        assertEquals((await expectProblem(res, 403)).detail, "Current password is incorrect");
        assertEquals(await userRow(app, user.id), before);
        assertEquals(await meStatus(app, laptop.access_token), 200);
      });
      await t.step("the right one: 200, other sessions revoked, this one kept", async () => {
        const res = await patch(app, user.id, user.token, {
          password: "a new password",
          current_password: user.password,
        });
        assertEquals(res.status, 200);
        assertEquals(await meStatus(app, user.token), 200);
        assertEquals(await meStatus(app, laptop.access_token), 401);
        const refresh = await app.request("POST", "/auth/refresh", {
          json: { refresh_token: laptop.refresh_token },
        });
        await expectProblem(refresh, 401);
        assertEquals(await loginStatus(app, user.username, user.password), 401);
        assertEquals(await loginStatus(app, user.username, "a new password"), 200);
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] an admin resets a user's password without the current one; all their sessions end`, async () => {
    const app = await createTestApp(dialect);
    try {
      const admin = (await loginAdmin(app)).access_token;
      const user = await createUser(app);
      const res = await patch(app, user.id, admin, { password: "reset by admin" });
      assertEquals(res.status, 200);
      assertEquals(await meStatus(app, user.token), 401);
      assertEquals(await meStatus(app, admin), 200);
      assertEquals(await loginStatus(app, user.username, "reset by admin"), 200);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] deactivation revokes every session at once; reactivation allows login`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const admin = (await loginAdmin(app)).access_token;
      const user = await createUser(app);
      const phone = await login(app, user.username, user.password);
      await t.step("PATCH activated=false", async () => {
        const res = await patch(app, user.id, admin, { activated: false });
        assertEquals(res.status, 200);
        assertEquals((await res.json()).activated, false);
        assertEquals(await meStatus(app, user.token), 401);
        assertEquals(await meStatus(app, phone.access_token), 401);
        const refresh = await app.request("POST", "/auth/refresh", {
          json: { refresh_token: phone.refresh_token },
        });
        await expectProblem(refresh, 401);
        assertEquals(await loginStatus(app, user.username, user.password), 401);
      });
      await t.step("PATCH activated=true", async () => {
        assertEquals((await patch(app, user.id, admin, { activated: true })).status, 200);
        assertEquals(await loginStatus(app, user.username, user.password), 200);
      });
      await t.step("DELETE by the user: 204, deactivated, every session gone", async () => {
        const again = await login(app, user.username, user.password);
        const res = await app.request("DELETE", `/users/${user.id}`, {
          headers: bearer(again.access_token),
        });
        assertEquals(res.status, 204);
        assertEquals(await meStatus(app, again.access_token), 401);
        assertEquals((await userRow(app, user.id)).activated, 0);
        const sessions = await app.deps.db.query(
          "SELECT id FROM sessions WHERE user_id = ?",
          [user.id],
        );
        assertEquals(sessions.length, 0);
      });
      await t.step("DELETE by an admin is idempotent; an unknown id is 404", async () => {
        const res = await app.request("DELETE", `/users/${user.id}`, { headers: bearer(admin) });
        assertEquals(res.status, 204);
        const missing = await app.request("DELETE", "/users/999999", { headers: bearer(admin) });
        await expectProblem(missing, 404);
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] admins: promotion, self-demotion, the last active admin, other admins' accounts`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const root = await loginAdmin(app);
      const rootId = root.user_id;
      await t.step(
        "the only admin cannot demote, deactivate or delete themselves: 409",
        async () => {
          const before = await userRow(app, rootId);
          const demote = await patch(app, rootId, root.access_token, { role_id: 2 });
          assertEquals(
            (await expectProblem(demote, 409)).detail,
            "The last active admin cannot be demoted",
          );
          const deactivate = await patch(app, rootId, root.access_token, { activated: false });
          assertEquals(
            (await expectProblem(deactivate, 409)).detail,
            "The last active admin cannot be deactivated",
          );
          const del = await app.request("DELETE", `/users/${rootId}`, {
            headers: bearer(root.access_token),
          });
          await expectProblem(del, 409);
          assertEquals(await userRow(app, rootId), before);
          assertEquals(await meStatus(app, root.access_token), 200);
        },
      );
      const second = await createUser(app);
      await t.step("an admin promotes a user", async () => {
        const res = await patch(app, second.id, root.access_token, { role_id: 1 });
        assertEquals(res.status, 200);
        assertEquals((await res.json()).role, "admin");
      });
      await t.step("an admin cannot change another admin's account: 403", async () => {
        for (
          const json of [
            { role_id: 2 },
            { activated: false },
            { password: "taken over!" },
            { username: "renamed" },
          ]
        ) {
          const res = await patch(app, second.id, root.access_token, json);
          assertEquals(
            (await expectProblem(res, 403)).detail,
            "An admin account can only be changed by its owner",
          );
        }
        const del = await app.request("DELETE", `/users/${second.id}`, {
          headers: bearer(root.access_token),
        });
        await expectProblem(del, 403);
      });
      await t.step("with another active admin, an admin may step down", async () => {
        const res = await patch(app, rootId, root.access_token, { role_id: 2 });
        assertEquals(res.status, 200);
        assertEquals((await res.json()).role, "user");
        // The change applies to the very next request: no admin routes any more.
        const users = await app.request("GET", "/users", { headers: bearer(root.access_token) });
        await expectProblem(users, 403);
      });
      await t.step("now the other admin is the last one", async () => {
        const res = await patch(app, second.id, second.token, { role_id: 2 });
        await expectProblem(res, 409);
        const del = await app.request("DELETE", `/users/${second.id}`, {
          headers: bearer(second.token),
        });
        await expectProblem(del, 409);
      });
      await t.step("a demoted admin cannot promote themselves back", async () => {
        await expectProblem(await patch(app, rootId, root.access_token, { role_id: 1 }), 403);
        assertEquals((await userRow(app, rootId)).role_id, 2);
      });
      await t.step("concurrent self-demotions of the last two admins leave one admin", async () => {
        const third = await createUser(app, { role: "admin" });
        const results = await Promise.all([
          patch(app, second.id, second.token, { role_id: 2 }),
          patch(app, third.id, third.token, { role_id: 2 }),
        ]);
        assertEquals(results.map((r) => r.status).sort(), [200, 409]);
        for (const r of results) await r.body?.cancel();
        const admins = await app.deps.db.query<{ n: number }>(
          "SELECT COUNT(*) AS n FROM users WHERE role_id = 1 AND activated = 1",
        );
        assertEquals(Number(admins[0]!.n), 1);
      });
      await t.step(
        "the bootstrap admin's password still works (nothing else touched it)",
        async () => {
          assertEquals(await loginStatus(app, TEST_ADMIN.username, TEST_ADMIN.password), 200);
        },
      );
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] PATCH /users/{id} by an admin: unknown role 422, unknown user 404`, async () => {
    const app = await createTestApp(dialect);
    try {
      const admin = (await loginAdmin(app)).access_token;
      const user = await createUser(app);
      await expectProblem(await patch(app, user.id, admin, { role_id: 77 }), 422);
      await expectProblem(await patch(app, 999999, admin, { username: "ghost" }), 404);
      await expectProblem(await patch(app, user.id, admin, { activated: "no" }), 422);
      const malformed = await app.request("PATCH", `/users/${user.id}`, {
        body: "{",
        headers: { ...bearer(admin), "Content-Type": "application/json" },
      });
      await expectProblem(malformed, 400);
    } finally {
      await app.close();
    }
  });
}
