import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, TEST_ADMIN, TEST_ARGON2 } from "./helpers/app.ts";
import { createUser, login, type Tokens } from "./helpers/auth.ts";
import { clientOf, expectJson } from "./helpers/client.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { PasswordHasher } from "@/runtime/passwords.ts";
import { hashToken } from "@/runtime/tokens.ts";
import { insertUser } from "@/modules/users/users.repository.ts";

const FORM = { "Content-Type": "application/x-www-form-urlencoded" };

function counting(hasher: PasswordHasher) {
  const calls = { hash: 0, verify: 0, verifyDummy: 0 };
  const { hash, verify, verifyDummy } = hasher;
  hasher.hash = (password) => (calls.hash++, hash.call(hasher, password));
  hasher.verify = (password, phc) => (calls.verify++, verify.call(hasher, password, phc));
  hasher.verifyDummy = (password) => (calls.verifyDummy++, verifyDummy.call(hasher, password));
  return calls;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] POST /auth/token logs in with JSON or an OAuth 2 password form`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      await t.step("JSON credentials", async () => {
        const tokens = await login(app, TEST_ADMIN.username, TEST_ADMIN.password);
        assertEquals(Object.keys(tokens).sort(), [
          "access_token",
          "expires_in",
          "refresh_expires_in",
          "refresh_token",
          "token_type",
          "user_id",
        ]);
        assertEquals(tokens.token_type, "bearer");
        assert(/^[A-Za-z0-9_-]{43}$/.test(tokens.access_token));
        assert(/^[A-Za-z0-9_-]{43}$/.test(tokens.refresh_token));
        const me = await clientOf(app, tokens.access_token).auth.me.$get();
        assertEquals((await expectJson(me, 200)).username, TEST_ADMIN.username);
      });
      await t.step("form with grant_type=password (scope and client fields ignored)", async () => {
        const body = new URLSearchParams({
          grant_type: "password",
          username: TEST_ADMIN.username,
          password: TEST_ADMIN.password,
          scope: "",
        }).toString();
        // hc sends `form` as multipart; the password grant is urlencoded, so by hand.
        const res = await app.request("POST", "/auth/token", { body, headers: FORM });
        assertEquals(res.status, 200);
        assertEquals(res.headers.get("cache-control"), "no-store");
        const tokens: Tokens = await res.json();
        assertEquals(tokens.token_type, "bearer");
      });
      await t.step("form with another grant_type is 422", async () => {
        const body = new URLSearchParams({
          grant_type: "client_credentials",
          username: TEST_ADMIN.username,
          password: TEST_ADMIN.password,
        }).toString();
        await expectProblem(await app.request("POST", "/auth/token", { body, headers: FORM }), 422);
      });
      await t.step("usernames match case-insensitively", async () => {
        const tokens = await login(app, TEST_ADMIN.username.toUpperCase(), TEST_ADMIN.password);
        assertEquals(tokens.user_id, 1);
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] POST /auth/token answers every failure with the same 401`, async (t) => {
    const app = await createTestApp(dialect);
    const calls = counting(app.deps.passwords);
    try {
      const user = await createUser(app);
      const deactivated = await createUser(app);
      await app.deps.db.execute("UPDATE users SET activated = 0 WHERE id = ?", [deactivated.id]);
      const attempts = {
        "unknown user": { username: "nobody-here", password: "whatever-password" },
        "wrong password": { username: user.username, password: "wrong-password" },
        "deactivated user": { username: deactivated.username, password: deactivated.password },
      };
      const bodies: string[] = [];
      for (const [label, json] of Object.entries(attempts)) {
        await t.step(label, async () => {
          const before = calls.verify;
          const res = await app.request("POST", "/auth/token", { json });
          const body = await expectProblem(res, 401);
          assertEquals(body.detail, "Invalid credentials");
          assertEquals(res.headers.get("www-authenticate"), "Bearer");
          // One Argon2id verification per attempt, whatever the reason (the dummy one included).
          assertEquals(calls.verify - before, 1);
          const { request_id: _, ...rest } = body;
          bodies.push(JSON.stringify(rest));
        });
      }
      assertEquals(new Set(bodies).size, 1);
      assertEquals(calls.verifyDummy, 1);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] POST /auth/token rejects bad bodies with 4xx before any hashing`, async (t) => {
    const app = await createTestApp(dialect);
    const calls = counting(app.deps.passwords);
    try {
      const cases: Array<[string, number, Parameters<typeof app.request>[2]]> = [
        ["a 129-character password", 422, {
          json: { username: TEST_ADMIN.username, password: "x".repeat(129) },
        }],
        ["a missing password", 422, { json: { username: TEST_ADMIN.username } }],
        ["an unknown field", 422, {
          json: { username: TEST_ADMIN.username, password: TEST_ADMIN.password, role_id: 1 },
        }],
        ["no body at all", 422, {}],
        ["malformed JSON", 400, {
          body: "{",
          headers: { "Content-Type": "application/json" },
        }],
        ["a text body", 415, { body: "hello", headers: { "Content-Type": "text/plain" } }],
      ];
      for (const [label, status, options] of cases) {
        await t.step(`${label} is ${status}`, async () => {
          await expectProblem(await app.request("POST", "/auth/token", options), status);
        });
      }
      assertEquals(calls.verify + calls.verifyDummy + calls.hash, 0);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] logging in upgrades a hash made with weaker Argon2id parameters`, async () => {
    const app = await createTestApp(dialect);
    try {
      const weak = new PasswordHasher(app.config.auth.secretKey, {
        memory: 64,
        passes: 1,
        parallelism: 1,
      });
      const password = "an old password";
      const id = await insertUser(app.deps.db, {
        username: "legacy",
        passwordHash: await weak.hash(password),
        roleId: 2,
        now: app.clock.now(),
      });
      const stored = async () =>
        (await app.deps.db.query<{ password_hash: string }>(
          "SELECT password_hash FROM users WHERE id = ?",
          [id],
        ))[0]!.password_hash;
      assert((await stored()).startsWith("$argon2id$v=19$m=64,t=1,p=1$"));
      await login(app, "legacy", password);
      const upgraded = await stored();
      assert(
        upgraded.startsWith(`$argon2id$v=19$m=${TEST_ARGON2.memory},t=${TEST_ARGON2.passes},p=1$`),
        upgraded,
      );
      // The same password still works, and a current hash is left alone.
      await login(app, "legacy", password);
      assertEquals(await stored(), upgraded);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] the sessions table holds only SHA-256 digests of the tokens`, async () => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      const second = await login(app, user.username, user.password);
      const refreshed = await expectJson(
        await clientOf(app).auth.refresh.$post({ json: { refresh_token: second.refresh_token } }),
        200,
      );
      const tokens = [
        user.token,
        user.refreshToken,
        second.access_token,
        second.refresh_token,
        refreshed.access_token,
        refreshed.refresh_token,
      ];
      const rows = await app.deps.db.query<Record<string, unknown>>("SELECT * FROM sessions");
      const dump = JSON.stringify(rows);
      for (const token of tokens) assert(!dump.includes(token), "a token is stored in clear");
      const digests = new Set(rows.flatMap((r) => [r.access_token_hash, r.refresh_token_hash]));
      assert(digests.has(await hashToken(user.token)));
      assert(digests.has(await hashToken(refreshed.access_token)));
      assert(digests.has(await hashToken(refreshed.refresh_token)));
      for (const row of rows) {
        for (const column of ["access_token_hash", "refresh_token_hash"]) {
          assert(/^[0-9a-f]{64}$/.test(String(row[column])), `${column} is not a hex digest`);
        }
      }
    } finally {
      await app.close();
    }
  });
}
