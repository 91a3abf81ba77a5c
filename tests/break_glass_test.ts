/**
 * Issue 13, item 8: the operator's break-glass commands contain any account, a rogue admin
 * included, from the command line (`deno task cli …`, the code the binary runs) over the
 * service's own database.
 */
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { createTestApp, expectProblem, TEST_ADMIN, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, login } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { repoPath, run, type RunResult } from "./helpers/deploy.ts";

/** The variables deno itself needs (its cache); everything else is set per run. */
function baseEnv(): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"];
  return Object.fromEntries(
    keep.flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

/** `deno task cli <args>` over the test app's database. */
function cli(t: TestApp, args: string[]): Promise<RunResult> {
  return run(Deno.execPath(), ["task", "--quiet", "cli", ...args], {
    cwd: repoPath(""),
    clearEnv: true,
    env: {
      ...baseEnv(),
      APP_ENV: "test",
      DATABASE_URL: t.database.url,
      SECRET_KEY: t.config.auth.secretKey,
      LOG_FORMAT: "json",
      METRICS_PORT: "0",
    },
  });
}

async function status(t: TestApp, token: string): Promise<number> {
  const res = await t.request("GET", "/auth/me", { headers: bearer(token) });
  await res.body?.cancel();
  return res.status;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] the CLI deactivates, reactivates and logs out any account, admins included`, async (s) => {
    const t = await createTestApp(dialect, { file: true });
    try {
      const rogue = await createUser(t, { role: "admin" });
      const second = await login(t, rogue.username, rogue.password);
      const bystander = await createUser(t);

      await s.step("the API cannot touch another admin (why break glass is needed)", async () => {
        const admin = await login(t, TEST_ADMIN.username, TEST_ADMIN.password);
        await expectProblem(
          await t.request("DELETE", `/users/${rogue.id}`, { headers: bearer(admin.access_token) }),
          403,
        );
      });

      await s.step("revoke-sessions logs the admin out of every device", async () => {
        const result = await cli(t, ["revoke-sessions", "--username", rogue.username]);
        assertEquals(result.code, 0, result.stderr);
        assertStringIncludes(result.stdout, `Revoked 2 session(s) of "${rogue.username}"`);
        assertEquals(await status(t, rogue.token), 401);
        assertEquals(await status(t, second.access_token), 401);
        assertEquals(await status(t, bystander.token), 200, "other accounts keep their sessions");
        // The password still works: only the sessions went.
        await login(t, rogue.username, rogue.password);
      });

      await s.step(
        "deactivate-user deactivates the admin and revokes its new sessions",
        async () => {
          const fresh = await login(t, rogue.username, rogue.password);
          // The name is matched as the API matches it (case-insensitively).
          const result = await cli(t, [
            "deactivate-user",
            "--username",
            rogue.username.toUpperCase(),
          ]);
          assertEquals(result.code, 0, result.stderr);
          assertStringIncludes(result.stdout, `Deactivated "${rogue.username}"`);
          // The login of the step before and this one.
          assertStringIncludes(result.stdout, "revoked 2 session(s)");
          assertEquals(await status(t, fresh.access_token), 401);
          await expectProblem(
            await t.request("POST", "/auth/token", {
              json: { username: rogue.username, password: rogue.password },
            }),
            401,
          );
          const again = await cli(t, ["deactivate-user", "--username", rogue.username]);
          assertEquals(again.code, 0, again.stderr);
          assertStringIncludes(again.stdout, "was already deactivated");
          // The deactivation is logged for the audit trail, without any secret.
          assertStringIncludes(result.stdout + result.stderr, '"action":"deactivate"');
        },
      );

      await s.step("reactivate-user lets the account log in again", async () => {
        const result = await cli(t, ["reactivate-user", "--username", rogue.username]);
        assertEquals(result.code, 0, result.stderr);
        assertStringIncludes(result.stdout, `Reactivated "${rogue.username}"`);
        const tokens = await login(t, rogue.username, rogue.password);
        assertEquals(await status(t, tokens.access_token), 200);
      });

      await s.step("deactivating the last active admin works, with a warning", async () => {
        for (const name of [TEST_ADMIN.username, rogue.username]) {
          const result = await cli(t, ["deactivate-user", "--username", name]);
          assertEquals(result.code, 0, result.stderr);
        }
        const last = await cli(t, ["deactivate-user", "--username", TEST_ADMIN.username]);
        assertStringIncludes(last.stderr, "no active admin remains; create one with create-admin");
      });

      await s.step("bad input: unknown or look-alike name 1, missing name 2", async () => {
        const unknown = await cli(t, ["deactivate-user", "--username", "no-such-user"]);
        assertEquals(unknown.code, 1);
        assertStringIncludes(unknown.stderr, 'No user named "no-such-user"');
        const lookAlike = await cli(t, ["revoke-sessions", "--username", "ａｄｍｉｎ"]);
        assertEquals(lookAlike.code, 1);
        assertStringIncludes(lookAlike.stderr, "Invalid username");
        const missing = await cli(t, ["reactivate-user"]);
        assertEquals(missing.code, 2);
        assertStringIncludes(missing.stderr, "--username <name> is required");
        const extra = await cli(t, ["revoke-sessions", "--username", "x", "--all"]);
        assertEquals(extra.code, 2);
        assert(await status(t, bystander.token) === 200, "nothing else changed");
      });
    } finally {
      await t.close();
    }
  });
}
