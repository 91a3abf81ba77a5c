import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, TEST_ADMIN } from "./helpers/app.ts";
import { bearer, createUser, login, loginAdmin, type Tokens } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { captureLogs, logText } from "./helpers/logs.ts";

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] no log line and no response holds a password, a token or a hash it should not`, async () => {
    const logs = await captureLogs();
    const app = await createTestApp(dialect);
    try {
      const secrets: string[] = [TEST_ADMIN.password];
      const bodies: Array<{ owner: string; text: string }> = [];
      const record = async (owner: string, res: Response) => {
        const text = await res.text();
        bodies.push({ owner, text });
        return text;
      };
      const admin = await loginAdmin(app);
      secrets.push(admin.access_token, admin.refresh_token);
      const alice = await createUser(app, { password: "alice-secret-password" });
      secrets.push(alice.password, alice.token, alice.refreshToken);

      // Failed logins: wrong password, unknown user, a password typed as the username.
      await record(
        "anon",
        await app.request("POST", "/auth/token", {
          json: { username: alice.username, password: "alice-wrong-password" },
        }),
      );
      await record(
        "anon",
        await app.request("POST", "/auth/token", {
          json: { username: "alice-typed-password-here", password: "x-y-z-secret" },
        }),
      );
      secrets.push("alice-wrong-password", "x-y-z-secret");
      // A generated password appears once, in the creating response only.
      const created = JSON.parse(
        await record(
          "admin-create",
          await app.request("POST", "/users", {
            json: { username: "generated", role_id: 2 },
            headers: bearer(admin.access_token),
          }),
        ),
      );
      secrets.push(created.password);
      // Rotation, reuse, password change, listing.
      const refreshed = JSON.parse(
        await record(
          "alice",
          await app.request("POST", "/auth/refresh", {
            json: { refresh_token: alice.refreshToken },
          }),
        ),
      ) as Tokens;
      secrets.push(refreshed.access_token, refreshed.refresh_token);
      await record(
        "anon",
        await app.request("POST", "/auth/refresh", { json: { refresh_token: alice.refreshToken } }),
      );
      const again = await login(app, alice.username, alice.password);
      secrets.push(again.access_token, again.refresh_token);
      await record(
        "alice",
        await app.request("PATCH", `/users/${alice.id}`, {
          json: { password: "alice-new-password", current_password: alice.password },
          headers: bearer(again.access_token),
        }),
      );
      secrets.push("alice-new-password");
      await record(
        "alice",
        await app.request("GET", "/auth/sessions", { headers: bearer(again.access_token) }),
      );
      await record(
        "admin",
        await app.request("GET", "/users?limit=100", { headers: bearer(admin.access_token) }),
      );
      await record(
        "admin",
        await app.request("GET", "/auth/me", { headers: bearer(admin.access_token) }),
      );

      const text = logText(logs);
      assert(text.length > 0, "something was logged");
      for (const secret of secrets) {
        assert(!text.includes(secret), "a secret reached the log");
      }
      assert(!text.includes("$argon2id$"), "a password hash reached the log");

      const hashes = (await app.deps.db.query<Record<string, string | null>>(
        "SELECT access_token_hash, refresh_token_hash, previous_refresh_token_hash FROM sessions",
      )).flatMap((r) => Object.values(r)).filter((v): v is string => v !== null);
      assert(hashes.length > 0);
      for (const { owner, text } of bodies) {
        for (const hash of hashes) {
          assert(!text.includes(hash), `a token hash in a ${owner} response`);
        }
        assert(!text.includes("$argon2id$"), `a password hash in a ${owner} response`);
        for (const secret of secrets) {
          if (secret === created.password && owner === "admin-create") continue;
          if (
            (secret === refreshed.access_token || secret === refreshed.refresh_token) &&
            owner === "alice"
          ) {
            continue;
          }
          assert(!text.includes(secret), `a secret in a ${owner} response`);
        }
      }
      assertEquals(bodies.filter((b) => b.text.includes(created.password)).length, 1);
    } finally {
      await app.close();
    }
  });
}
