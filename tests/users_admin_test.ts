import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, login, loginAdmin } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { createAdmin } from "@/modules/users/create-admin.ts";
import { ConflictError, ValidationError } from "@/http/errors.ts";
import { assertRejects } from "./helpers/assert.ts";

interface UserView {
  id: number;
  username: string;
  role_id: number;
  role: string;
  activated: boolean;
  created_at: string;
  updated_at: string;
  password?: string;
}

async function postUser(t: TestApp, token: string, json: unknown): Promise<Response> {
  return await t.request("POST", "/users", { json, headers: bearer(token) });
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] POST /users creates users; the admin may let the service pick the password`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const admin = (await loginAdmin(app)).access_token;
      await t.step("with a password: 201, Location, no password in the body", async () => {
        const res = await postUser(app, admin, {
          username: "alice",
          role_id: 2,
          password: "alice-password",
        });
        assertEquals(res.status, 201);
        const body = await res.json() as UserView;
        assertEquals(res.headers.get("location"), `/users/${body.id}`);
        assertEquals(Object.keys(body).sort(), [
          "activated",
          "created_at",
          "id",
          "role",
          "role_id",
          "updated_at",
          "username",
        ]);
        assertEquals([body.username, body.role_id, body.role, body.activated], [
          "alice",
          2,
          "user",
          true,
        ]);
        await login(app, "alice", "alice-password");
      });
      await t.step(
        "without one: a generated password of 20 characters, returned once",
        async () => {
          const res = await postUser(app, admin, { username: "bob", role_id: 2 });
          assertEquals(res.status, 201);
          const body = await res.json() as UserView;
          assert(body.password && body.password.length >= 16, "a long generated password");
          await login(app, "bob", body.password);
          const again = await app.request("GET", `/users/${body.id}`, { headers: bearer(admin) });
          assertEquals("password" in (await again.json()), false);
        },
      );
      await t.step("a taken username, in any case: 409 Username already taken", async () => {
        const res = await postUser(app, admin, { username: "ALICE", role_id: 2 });
        assertEquals((await expectProblem(res, 409)).detail, "Username already taken");
      });
      await t.step("an unknown role: 422 on role_id", async () => {
        const body = await expectProblem(
          await postUser(app, admin, { username: "carol", role_id: 99 }),
          422,
        );
        assertEquals((body.errors as Array<{ path: string }>)[0]!.path, "body.role_id");
      });
      await t.step("password policy: 8 to 128 characters, else 422", async () => {
        await expectProblem(
          await postUser(app, admin, { username: "carol", role_id: 2, password: "short" }),
          422,
        );
        await expectProblem(
          await postUser(app, admin, { username: "carol", role_id: 2, password: "x".repeat(129) }),
          422,
        );
        assertEquals(
          (await postUser(app, admin, { username: "carol", role_id: 2, password: "x".repeat(128) }))
            .status,
          201,
        );
        assertEquals(
          (await postUser(app, admin, { username: "dave", role_id: 2, password: "12345678" }))
            .status,
          201,
        );
      });
      await t.step("bad usernames and unknown fields: 422", async () => {
        for (
          const json of [
            { username: "ab", role_id: 2 },
            { username: "has space", role_id: 2 },
            { username: "x".repeat(65), role_id: 2 },
            { username: "erin", role_id: 2, activated: false },
            { username: "erin", role_id: 2, id: 500 },
            { username: "erin", role_id: "2" },
            { username: "erin" },
          ]
        ) {
          await expectProblem(await postUser(app, admin, json), 422);
        }
        const rows = await app.deps.db.query("SELECT id FROM users WHERE username = 'erin'");
        assertEquals(rows.length, 0);
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] GET /users pages and filters, admin only`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const admin = (await loginAdmin(app)).access_token;
      for (const name of ["ann_1", "annx1", "bert", "ANNA", "zed"]) {
        await createUser(app, { username: name });
      }
      const deactivated = await createUser(app, { username: "ann_off" });
      await app.deps.db.execute("UPDATE users SET activated = 0 WHERE id = ?", [deactivated.id]);
      const list = async (query: string) => {
        const res = await app.request("GET", `/users${query}`, { headers: bearer(admin) });
        assertEquals(res.status, 200, await res.clone().text());
        return await res.json() as {
          page: number;
          limit: number;
          total: number;
          users: UserView[];
        };
      };
      await t.step("defaults: page 1, limit 20, ordered by id", async () => {
        const page = await list("");
        assertEquals([page.page, page.limit, page.total], [1, 20, 7]);
        const ids = page.users.map((u) => u.id);
        assertEquals(ids, [...ids].sort((a, b) => a - b));
      });
      await t.step("pages do not overlap", async () => {
        const first = await list("?limit=3&page=1");
        const second = await list("?limit=3&page=2");
        const third = await list("?limit=3&page=3");
        assertEquals(first.total, 7);
        const all = [...first.users, ...second.users, ...third.users].map((u) => u.id);
        assertEquals(new Set(all).size, 7);
        assertEquals((await list("?limit=3&page=4")).users, []);
      });
      await t.step(
        "username is a case-insensitive substring with wildcards taken literally",
        async () => {
          const names = (await list("?username=ann")).users.map((u) => u.username).sort();
          assertEquals(names, ["ANNA", "ann_1", "ann_off", "annx1"]);
          const literal = (await list("?username=ann_")).users.map((u) => u.username).sort();
          assertEquals(literal, ["ann_1", "ann_off"]);
          assertEquals((await list("?username=%25")).total, 0);
        },
      );
      await t.step("activated and role_id filter exactly", async () => {
        assertEquals((await list("?activated=false")).users.map((u) => u.username), ["ann_off"]);
        assertEquals((await list("?activated=true")).total, 6);
        assertEquals((await list("?role_id=1")).users.map((u) => u.username), ["admin"]);
        assertEquals((await list("?role_id=2&activated=true&username=ann")).total, 3);
      });
      await t.step("sort by username descending", async () => {
        const names = (await list("?sort=-username&limit=2")).users.map((u) => u.username);
        assertEquals(names.length, 2);
        assertEquals(names[0]!.toLowerCase(), "zed");
      });
      await t.step("out-of-range paging and bad filters: 422", async () => {
        for (
          const query of [
            "?page=0",
            "?page=-1",
            "?limit=0",
            "?limit=101",
            "?page=abc",
            "?activated=yes",
            "?role_id=x",
            "?sort=password_hash",
          ]
        ) {
          await expectProblem(
            await app.request("GET", `/users${query}`, { headers: bearer(admin) }),
            422,
          );
        }
      });
      await t.step("the list never carries password hashes", async () => {
        const text = JSON.stringify(await list("?limit=100"));
        assert(!text.includes("$argon2id$"));
        assert(!text.includes("password"));
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] GET /users/{id}: admin or self; 404 only for admins`, async () => {
    const app = await createTestApp(dialect);
    try {
      const admin = (await loginAdmin(app)).access_token;
      const user = await createUser(app);
      const res = await app.request("GET", `/users/${user.id}`, { headers: bearer(user.token) });
      assertEquals(res.status, 200);
      assertEquals((await res.json()).username, user.username);
      const missing = await app.request("GET", "/users/424242", { headers: bearer(admin) });
      assertEquals((await expectProblem(missing, 404)).detail, "User not found");
      // A user probing ids learns nothing: 403 whether the id exists or not.
      await expectProblem(
        await app.request("GET", "/users/424242", { headers: bearer(user.token) }),
        403,
      );
      await expectProblem(
        await app.request("GET", "/users/abc", { headers: bearer(user.token) }),
        403,
      );
      await expectProblem(await app.request("GET", "/users/abc", { headers: bearer(admin) }), 422);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] createAdmin() makes an admin who can log in, and validates its input`, async () => {
    const app = await createTestApp(dialect);
    try {
      const admin = await createAdmin(app.deps, "ops-admin", "a long passphrase");
      assertEquals([admin.role, admin.activated], ["admin", true]);
      const tokens = await login(app, "ops-admin", "a long passphrase");
      assertEquals(tokens.user_id, admin.id);
      await assertRejects(
        () => createAdmin(app.deps, "ops-admin", "another passphrase"),
        ConflictError,
      );
      await assertRejects(() => createAdmin(app.deps, "x", "a long passphrase"), ValidationError);
      await assertRejects(() => createAdmin(app.deps, "ops-two", "short"), ValidationError);
    } finally {
      await app.close();
    }
  });
}
