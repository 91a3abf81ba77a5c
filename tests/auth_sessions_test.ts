import { assert, assertEquals, assertNotEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, login, type Tokens } from "./helpers/auth.ts";
import { clientOf, expectJson } from "./helpers/client.ts";
import { DIALECTS } from "./helpers/databases.ts";

async function sessionsOf(t: TestApp, token: string) {
  return await expectJson(await clientOf(t, token).auth.sessions.$get(), 200);
}

function refresh(t: TestApp, refreshToken: string) {
  return clientOf(t).auth.refresh.$post({ json: { refresh_token: refreshToken } });
}

async function meStatus(t: TestApp, token: string): Promise<number> {
  const res = await clientOf(t, token).auth.me.$get();
  await res.body?.cancel();
  return res.status;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] POST /auth/refresh rotates both tokens and detects reuse`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      let next!: Tokens;
      await t.step("a refresh returns a new pair and the old pair dies", async () => {
        next = await expectJson(await refresh(app, user.refreshToken), 200);
        assertEquals(next.token_type, "bearer");
        assertEquals(next.user_id, user.id);
        assertEquals(next.expires_in, 7200);
        assertEquals(next.refresh_expires_in, 30 * 24 * 3600);
        assertNotEquals(next.access_token, user.token);
        assertNotEquals(next.refresh_token, user.refreshToken);
        assertEquals(await meStatus(app, user.token), 401);
        assertEquals(await meStatus(app, next.access_token), 200);
        // Still one session (the same device), not a new one.
        assertEquals((await sessionsOf(app, next.access_token)).length, 1);
      });
      await t.step("presenting the rotated refresh token revokes the session", async () => {
        const reuse = await refresh(app, user.refreshToken);
        const body = await expectProblem(reuse, 401);
        assertEquals(body.detail, "Invalid or expired refresh token");
        // The current pair died with the session: the thief and the owner both log in again.
        assertEquals(await meStatus(app, next.access_token), 401);
        await expectProblem(await refresh(app, next.refresh_token), 401);
      });
      await t.step("an unknown or malformed refresh token is 401", async () => {
        await expectProblem(await refresh(app, "A".repeat(43)), 401);
        await expectProblem(await refresh(app, "not a token"), 401);
      });
      await t.step("an access token is not a refresh token", async () => {
        const tokens = await login(app, user.username, user.password);
        await expectProblem(await refresh(app, tokens.access_token), 401);
        assertEquals(await meStatus(app, tokens.access_token), 200);
      });
      await t.step("a malformed body is 422", async () => {
        await expectProblem(await app.request("POST", "/auth/refresh", { json: {} }), 422);
        await expectProblem(
          await app.request("POST", "/auth/refresh", {
            json: { refresh_token: user.refreshToken, user_id: 1 },
          }),
          422,
        );
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] POST /auth/token takes the refresh grant as a form or JSON, rotating and detecting reuse like /auth/refresh`, async (t) => {
    const app = await createTestApp(dialect);
    const form = (fields: Record<string, string>) =>
      app.request("POST", "/auth/token", {
        body: new URLSearchParams(fields).toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
    try {
      const user = await createUser(app);
      let next!: Tokens;
      await t.step("the form Scalar's Refresh button sends rotates the pair", async () => {
        const res = await form({ grant_type: "refresh_token", refresh_token: user.refreshToken });
        next = await expectJson(res, 200);
        assertEquals(res.headers.get("cache-control"), "no-store");
        assertEquals(next.user_id, user.id);
        assertNotEquals(next.refresh_token, user.refreshToken);
        assertEquals(await meStatus(app, user.token), 401);
        assertEquals(await meStatus(app, next.access_token), 200);
        assertEquals((await sessionsOf(app, next.access_token)).length, 1);
      });
      await t.step("JSON with grant_type=refresh_token rotates it again", async () => {
        const res = await app.request("POST", "/auth/token", {
          json: { grant_type: "refresh_token", refresh_token: next.refresh_token },
        });
        const again: Tokens = await expectJson(res, 200);
        assertEquals(await meStatus(app, next.access_token), 401);
        assertEquals(await meStatus(app, again.access_token), 200);
        next = again;
      });
      let stale!: Tokens;
      await t.step("client fields and scope beside the grant are ignored", async () => {
        const res = await form({
          grant_type: "refresh_token",
          refresh_token: next.refresh_token,
          client_id: "",
          scope: "",
        });
        stale = next;
        next = await expectJson(res, 200);
        assertEquals(await meStatus(app, next.access_token), 200);
      });
      await t.step("presenting a rotated refresh token revokes the session", async () => {
        const reuse = await form({
          grant_type: "refresh_token",
          refresh_token: stale.refresh_token,
        });
        const body = await expectProblem(reuse, 401);
        assertEquals(body.detail, "Invalid or expired refresh token");
        assertEquals(await meStatus(app, next.access_token), 401);
        await expectProblem(await refresh(app, next.refresh_token), 401);
      });
      await t.step(
        "an unknown refresh token is 401; a grant without its token is 422",
        async () => {
          await expectProblem(
            await form({ grant_type: "refresh_token", refresh_token: "A".repeat(43) }),
            401,
          );
          await expectProblem(await form({ grant_type: "refresh_token" }), 422);
          await expectProblem(
            await app.request("POST", "/auth/token", {
              json: { refresh_token: next.refresh_token },
            }),
            422,
          );
          const mixed = await app.request("POST", "/auth/token", {
            json: { grant_type: "refresh_token", refresh_token: "A".repeat(43), username: "admin" },
          });
          await expectProblem(mixed, 422);
        },
      );
      await t.step("an unsupported grant_type is 422 naming the ones taken", async () => {
        const body = await expectProblem(
          await form({ grant_type: "client_credentials", client_id: "x" }),
          422,
        );
        assertEquals(body.errors, [{
          path: "body.grant_type",
          message: 'Expected grant_type "password" (the default) or "refresh_token"',
        }]);
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] six concurrent refreshes with one token: exactly one 200, the rest 401`, async () => {
    const app = await createTestApp(dialect);
    try {
      for (let round = 0; round < 3; round++) {
        const user = await createUser(app);
        const responses = await Promise.all(
          Array.from({ length: 6 }, () => refresh(app, user.refreshToken)),
        );
        const statuses = responses.map((r) => r.status).sort();
        assertEquals(statuses, [200, 401, 401, 401, 401, 401]);
        const winner = responses.find((r) => r.status === 200)!;
        const tokens = await expectJson(winner, 200);
        for (const r of responses) if (r !== winner) await expectProblem(r, 401);
        // The losers presented a rotated token: reuse detection revoked the session.
        assertEquals(await meStatus(app, tokens.access_token), 401);
        await expectProblem(await refresh(app, tokens.refresh_token), 401);
      }
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] POST /auth/logout kills the access and refresh token at once`, async () => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      const other = await login(app, user.username, user.password);
      const res = await app.request("POST", "/auth/logout", { headers: bearer(user.token) });
      assertEquals(res.status, 204);
      assertEquals(await res.text(), "");
      assertEquals(await meStatus(app, user.token), 401);
      await expectProblem(await refresh(app, user.refreshToken), 401);
      // Another device of the same user is untouched.
      assertEquals(await meStatus(app, other.access_token), 200);
      const again = await app.request("POST", "/auth/logout", { headers: bearer(user.token) });
      const body = await expectProblem(again, 401);
      assertEquals(again.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
      assertEquals(body.detail, "Invalid or expired access token");
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] GET /auth/sessions lists the caller's devices without token material`, async () => {
    const app = await createTestApp(dialect, { env: { TRUST_PROXY: "true" } });
    try {
      const user = await createUser(app);
      const other = await createUser(app);
      const longAgent = `Agent/${"x".repeat(400)}`;
      const phone = await login(app, user.username, user.password, {
        "User-Agent": longAgent,
        "X-Forwarded-For": "198.51.100.1, 203.0.113.9",
      });
      const list = await sessionsOf(app, phone.access_token);
      assertEquals(list.length, 2);
      assertEquals(Object.keys(list[0]!).sort(), [
        "created_at",
        "current",
        "expires_at",
        "id",
        "ip",
        "last_used_at",
        "user_agent",
      ]);
      const current = list.filter((s) => s.current);
      assertEquals(current.length, 1);
      assertEquals(current[0]!.user_agent, longAgent.slice(0, 255));
      assertEquals(current[0]!.ip, "203.0.113.9");
      for (const s of list) assert(s.expires_at.endsWith("Z") && s.created_at.endsWith("Z"));
      // Only the caller's own sessions.
      assertEquals((await sessionsOf(app, other.token)).length, 1);

      const rows = await app.deps.db.query<Record<string, unknown>>("SELECT * FROM sessions");
      const text = JSON.stringify(list);
      for (const row of rows) {
        for (const column of ["access_token_hash", "refresh_token_hash"]) {
          assert(!text.includes(String(row[column])), `listing leaks ${column}`);
        }
      }
      for (
        const token of [user.token, user.refreshToken, phone.access_token, phone.refresh_token]
      ) {
        assert(!text.includes(token), "listing leaks a token");
      }
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] DELETE /auth/sessions/{id} revokes one own session; others are 404`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      const laptop = await login(app, user.username, user.password);
      const stranger = await createUser(app);
      const [laptopSession] = (await sessionsOf(app, laptop.access_token)).filter((s) => s.current);
      assert(laptopSession);
      await t.step("another user's session is 404 and stays alive", async () => {
        const res = await app.request("DELETE", `/auth/sessions/${laptopSession.id}`, {
          headers: bearer(stranger.token),
        });
        assertEquals((await expectProblem(res, 404)).detail, "Session not found");
        assertEquals(await meStatus(app, laptop.access_token), 200);
      });
      await t.step("a non-numeric id is 422, an unknown one 404", async () => {
        await expectProblem(
          await app.request("DELETE", "/auth/sessions/abc", { headers: bearer(user.token) }),
          422,
        );
        await expectProblem(
          await app.request("DELETE", "/auth/sessions/999999", { headers: bearer(user.token) }),
          404,
        );
      });
      await t.step("the owner revokes it: its tokens die at once", async () => {
        const res = await app.request("DELETE", `/auth/sessions/${laptopSession.id}`, {
          headers: bearer(user.token),
        });
        assertEquals(res.status, 204);
        assertEquals(await meStatus(app, laptop.access_token), 401);
        await expectProblem(await refresh(app, laptop.refresh_token), 401);
        assertEquals(await meStatus(app, user.token), 200);
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] DELETE /auth/sessions logs out every other device`, async () => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      const others = [
        await login(app, user.username, user.password),
        await login(app, user.username, user.password),
      ];
      const bystander = await createUser(app);
      const res = await app.request("DELETE", "/auth/sessions", { headers: bearer(user.token) });
      assertEquals(res.status, 204);
      for (const o of others) assertEquals(await meStatus(app, o.access_token), 401);
      assertEquals(await meStatus(app, user.token), 200);
      assertEquals((await sessionsOf(app, user.token)).length, 1);
      assertEquals(await meStatus(app, bystander.token), 200);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] logging in beyond MAX_SESSIONS_PER_USER evicts the oldest session`, async () => {
    const app = await createTestApp(dialect, { env: { MAX_SESSIONS_PER_USER: "3" } });
    try {
      const user = await createUser(app);
      const logins: Tokens[] = [];
      for (let i = 0; i < 3; i++) {
        app.clock.advance(1_000);
        logins.push(await login(app, user.username, user.password));
      }
      // user.token (the first session) and logins[0] went; the newest three remain.
      assertEquals(await meStatus(app, user.token), 401);
      await expectProblem(await refresh(app, user.refreshToken), 401);
      for (const l of logins) assertEquals(await meStatus(app, l.access_token), 200);
      app.clock.advance(1_000);
      const newest = await login(app, user.username, user.password);
      assertEquals(await meStatus(app, logins[0]!.access_token), 401);
      assertEquals((await sessionsOf(app, newest.access_token)).length, 3);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] concurrent logins of one user keep exactly MAX_SESSIONS_PER_USER sessions`, async () => {
    const app = await createTestApp(dialect, { env: { MAX_SESSIONS_PER_USER: "3" } });
    try {
      const user = await createUser(app);
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          app.request("POST", "/auth/token", {
            json: { username: user.username, password: user.password },
          })),
      );
      assertEquals(results.map((r) => r.status), Array(8).fill(200));
      for (const r of results) await r.body?.cancel();
      const rows = await app.deps.db.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?",
        [user.id],
      );
      assertEquals(Number(rows[0]!.n), 3);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] tokens expire on the injected clock`, async (t) => {
    const app = await createTestApp(dialect, {
      env: { ACCESS_TOKEN_TTL: "15m", REFRESH_TOKEN_TTL: "1d" },
    });
    try {
      const user = await createUser(app);
      await t.step("the access token works until ACCESS_TOKEN_TTL, then 401", async () => {
        app.clock.advance(15 * 60_000 - 1);
        assertEquals(await meStatus(app, user.token), 200);
        app.clock.advance(1);
        const res = await app.request("GET", "/auth/me", { headers: bearer(user.token) });
        await expectProblem(res, 401);
        assertEquals(res.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
      });
      let tokens!: Tokens;
      await t.step("the refresh token still renews the pair", async () => {
        tokens = await expectJson(await refresh(app, user.refreshToken), 200);
        assertEquals(await meStatus(app, tokens.access_token), 200);
      });
      await t.step(
        "after REFRESH_TOKEN_TTL the refresh token is 401 and the session gone",
        async () => {
          app.clock.advance(24 * 3600_000);
          await expectProblem(await refresh(app, tokens.refresh_token), 401);
          const rows = await app.deps.db.query<{ n: number }>(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?",
            [user.id],
          );
          assertEquals(Number(rows[0]!.n), 0);
        },
      );
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] last_used_at is written at most once a minute per session`, async () => {
    const app = await createTestApp(dialect);
    try {
      const user = await createUser(app);
      const start = app.clock.now().toISOString();
      const lastUsed = async () => {
        const rows = await app.deps.db.query<{ last_used_at: unknown }>(
          "SELECT last_used_at FROM sessions WHERE user_id = ?",
          [user.id],
        );
        const value = rows[0]!.last_used_at;
        return value instanceof Date ? value.toISOString() : String(value);
      };
      app.clock.advance(30_000);
      assertEquals(await meStatus(app, user.token), 200);
      assertEquals(await lastUsed(), start);
      app.clock.advance(31_000);
      assertEquals(await meStatus(app, user.token), 200);
      const touched = app.clock.now().toISOString();
      assertEquals(await lastUsed(), touched);
      for (let i = 0; i < 5; i++) {
        app.clock.advance(10_000);
        assertEquals(await meStatus(app, user.token), 200);
      }
      // 50 s after the write: still the same value.
      assertEquals(await lastUsed(), touched);
      app.clock.advance(10_000);
      assertEquals(await meStatus(app, user.token), 200);
      assertEquals(await lastUsed(), app.clock.now().toISOString());
    } finally {
      await app.close();
    }
  });
}
