/**
 * Issue 13, items 9–12: input a hostile client sends that used to give a 500, an oversized
 * answer or a silent acceptance.
 */
import { ConfigError, parseConfig } from "@/config.ts";
import { FIELD_ERRORS_MAX, UNKNOWN_KEYS_LISTED_MAX } from "@/http/router.ts";
import { lowEntropyReason } from "@/runtime/secret-strength.ts";
import { createAdmin } from "@/modules/users/create-admin.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./helpers/assert.ts";
import { createTestApp, expectProblem } from "./helpers/app.ts";
import { bearer, createUser, login, loginAdmin, uniqueUsername } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";

const PRODUCTION = { APP_ENV: "production", DATABASE_URL: "mysql://u:p@db:3306/app" } as const;

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] a timestamp past year 9999 in UTC is 422 and changes nothing`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const admin = await loginAdmin(t);
      const headers = bearer(admin.access_token);
      const before = await (await t.request("GET", "/versions")).text();
      const outOfRange = [
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:30:00-00:31",
        "+010000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:30:00+01:00",
      ];
      for (const sunset_at of outOfRange) {
        await s.step(`POST /versions with sunset_at ${sunset_at}`, async () => {
          const body = await expectProblem(
            await t.request("POST", "/versions", {
              headers,
              json: { version: "7.7", sunset_at },
            }),
            422,
          );
          assertEquals((body.errors as Array<{ path: string }>)[0]?.path, "body.sunset_at");
        });
        await s.step(`PATCH /versions/9 with sunset_at ${sunset_at}`, async () => {
          await expectProblem(
            await t.request("PATCH", "/versions/9", { headers, json: { sunset_at } }),
            422,
          );
        });
      }
      assertEquals(await (await t.request("GET", "/versions")).text(), before);

      await s.step("the last storable instant is accepted and read back in UTC", async () => {
        const res = await t.request("POST", "/versions", {
          headers,
          json: { version: "7.8", sunset_at: "9999-12-31T23:59:59+00:00" },
        });
        assertEquals(res.status, 201, await res.clone().text());
        assertEquals((await res.json()).sunset_at, "9999-12-31T23:59:59.000Z");
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] a password with a lone UTF-16 surrogate is 422 wherever one is set`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const admin = await loginAdmin(t);
      const user = await createUser(t);
      // JSON text escapes: the parsed strings hold a lone high and a lone low surrogate.
      const lone = ['"pass\\ud800word-123"', '"\\udfffpassword-123"'];
      for (const password of lone) {
        await s.step(`POST /users with ${password}`, async () => {
          const username = uniqueUsername("surrogate");
          const body = await expectProblem(
            await t.request("POST", "/users", {
              headers: { ...bearer(admin.access_token), "Content-Type": "application/json" },
              body: `{"username":"${username}","role_id":2,"password":${password}}`,
            }),
            422,
          );
          assertEquals((body.errors as Array<{ path: string }>)[0]?.path, "body.password");
          const lookup = await t.request("GET", `/users?username=${username}`, {
            headers: bearer(admin.access_token),
          });
          assertEquals((await lookup.json()).total, 0, "no user was created");
        });
        await s.step(`PATCH /users/{self} with ${password}`, async () => {
          await expectProblem(
            await t.request("PATCH", `/users/${user.id}`, {
              headers: { ...bearer(user.token), "Content-Type": "application/json" },
              body: `{"password":${password},"current_password":"${user.password}"}`,
            }),
            422,
          );
          // The old password still works: nothing changed.
          await login(t, user.username, user.password);
        });
        await s.step(`an admin reset with ${password}`, async () => {
          await expectProblem(
            await t.request("PATCH", `/users/${user.id}`, {
              headers: { ...bearer(admin.access_token), "Content-Type": "application/json" },
              body: `{"password":${password}}`,
            }),
            422,
          );
        });
      }
      await s.step("create-admin refuses one too", async () => {
        const error = await createAdmin(t.deps, uniqueUsername("ops"), "ops-\ud800-password")
          .then(() => undefined, (e: unknown) => e as Error);
        assert(error, "createAdmin must refuse the password");
        assertStringIncludes(error.message, "Invalid admin account");
      });
      await s.step("a surrogate pair (an emoji) is a fine password", async () => {
        const res = await t.request("PATCH", `/users/${user.id}`, {
          headers: bearer(user.token),
          json: { password: "emoji-\u{1F600}-password", current_password: user.password },
        });
        assertEquals(res.status, 200, await res.text());
        await login(t, user.username, "emoji-\u{1F600}-password");
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] a 422 names at most ${UNKNOWN_KEYS_LISTED_MAX} unknown keys and counts the rest`, async () => {
    const t = await createTestApp(dialect);
    try {
      const admin = await loginAdmin(t);
      // Close to BODY_LIMIT_BYTES (1 MiB) of unknown keys, one of them very long.
      const body: Record<string, unknown> = { name: "x", ["k".repeat(5_000)]: 1 };
      for (let i = 0; body && JSON.stringify(body).length < 1_000_000; i++) {
        for (let j = 0; j < 1000; j++) body[`unknown_${i}_${j}`] = 1;
      }
      const keyCount = Object.keys(body).length - 1;
      const res = await t.request("POST", "/items", {
        headers: bearer(admin.access_token),
        json: body,
      });
      const text = await res.clone().text();
      const problem = await expectProblem(res, 422);
      assert(text.length < 2_000, `the answer is ${text.length} bytes`);
      const errors = problem.errors as Array<{ path: string; message: string }>;
      assertEquals(errors.length, 1);
      assertEquals(errors[0]!.path, "body");
      assertStringIncludes(errors[0]!.message, `and ${keyCount - UNKNOWN_KEYS_LISTED_MAX} more`);
      assertStringIncludes(errors[0]!.message, `"${"k".repeat(64)}…"`);

      // Few unknown keys are all named.
      const few = await expectProblem(
        await t.request("POST", "/items", {
          headers: bearer(admin.access_token),
          json: { name: "x", a: 1, b: 2 },
        }),
        422,
      );
      assertEquals(
        (few.errors as Array<{ message: string }>)[0]!.message,
        'Unrecognized keys: "a", "b"',
      );
    } finally {
      await t.close();
    }
  });
}

Deno.test("a 422 lists at most FIELD_ERRORS_MAX field errors and counts the rest", async () => {
  const { toFieldErrors } = await import("@/http/router.ts");
  const issues = Array.from({ length: 500 }, (_, i) => ({ path: [`f${i}`], message: "Bad" }));
  const errors = toFieldErrors("json", issues);
  assertEquals(errors.length, FIELD_ERRORS_MAX + 1);
  assertEquals(errors.at(-1), {
    path: "body",
    message: `And ${500 - FIELD_ERRORS_MAX} more error(s)`,
  });
});

Deno.test("production refuses an obviously low-entropy SECRET_KEY; development warns", async (s) => {
  const weak = [
    "a".repeat(32),
    "abababababababababababababababab",
    "0123456789abcdef0123456789abcdef0123",
    "abcdefghijklmnopqrstuvwxyz0123456789",
    "passwordpasswordpasswordpassword",
  ];
  for (const key of weak) {
    await s.step(`refused: ${key}`, () => {
      const error = assertThrows(
        () => parseConfig({ ...PRODUCTION, SECRET_KEY: key }),
        ConfigError,
      );
      assertStringIncludes(error.message, "SECRET_KEY: Too predictable");
      assert(!error.message.includes(key), "the key itself is never echoed");
      const dev = parseConfig({ APP_ENV: "development", SECRET_KEY: key });
      assert(dev.warnings.some((w) => w.startsWith("SECRET_KEY: Too predictable")));
    });
  }
  await s.step("random keys pass", () => {
    for (let i = 0; i < 200; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      assertEquals(lowEntropyReason(hex), undefined, hex);
      const config = parseConfig({ ...PRODUCTION, SECRET_KEY: hex });
      assertEquals(config.warnings, []);
    }
  });
});

Deno.test("production warns when DOCS_AUTH=none makes the docs public", () => {
  const key = "k7Qp2vX9mZr4Tb8Ln3Wc6Yd1Hf5Js0Ga";
  const open = parseConfig({ ...PRODUCTION, SECRET_KEY: key, DOCS_AUTH: "none" });
  assertEquals(open.docsAuth, "none");
  assert(open.warnings.some((w) => w.startsWith("DOCS_AUTH=none with APP_ENV=production")));
  assertEquals(parseConfig({ ...PRODUCTION, SECRET_KEY: key }).warnings, []);
  assertEquals(parseConfig({ APP_ENV: "development", DOCS_AUTH: "none" }).warnings.length, 1);
});
