/**
 * Cross-cutting races: requests of one caller that collide with each other — logout against
 * requests on the same token, refresh against logout, deactivation against the user's own
 * requests, deletes and edits of one item, creates of one username. Each answer must be one
 * the contract allows, the final state must agree with the answers, and nothing is ever a 5xx.
 * (Single-endpoint races — one refresh token six times, one item name six times, concurrent
 * logins past MAX_SESSIONS_PER_USER — live in the auth and items suites.)
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, TEST_ADMIN, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, login, type Tokens, uniqueUsername } from "./helpers/auth.ts";
import { createTestDatabase, DIALECTS } from "./helpers/databases.ts";

/** How often each race is run: interleavings differ from round to round. */
const ROUNDS = 4;
const ENV = {
  RATE_LIMIT_LOGIN_MAX: "1000000",
  RATE_LIMIT_LOGIN_IP_MAX: "1000000",
  RATE_LIMIT_API_MAX: "100000000",
};

/** Every response is below 500 and every error is problem+json. */
async function settle(responses: Response[]): Promise<Array<{ status: number; body: unknown }>> {
  const out = [];
  for (const [i, res] of responses.entries()) {
    assert(res.status < 500, `request ${i} answered ${res.status}: ${await res.clone().text()}`);
    if (res.status >= 400) {
      out.push({ status: res.status, body: await expectProblem(res, res.status) });
    } else {
      const text = await res.text();
      out.push({ status: res.status, body: text ? JSON.parse(text) : null });
    }
  }
  return out;
}

async function status(t: TestApp, method: string, path: string, token: string): Promise<number> {
  const res = await t.request(method, path, { headers: bearer(token) });
  await res.body?.cancel();
  return res.status;
}

function refresh(t: TestApp, refreshToken: string): Promise<Response> {
  return t.request("POST", "/auth/refresh", { json: { refresh_token: refreshToken } });
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] logout racing requests on the same token: each is served or 401, then all are 401`, async () => {
    const t = await createTestApp(dialect, { env: ENV });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const user = await createUser(t);
        const names = Array.from({ length: 4 }, (_, i) => `race ${round}-${i}`);
        const [logout, ...others] = await settle(
          await Promise.all([
            t.request("POST", "/auth/logout", { headers: bearer(user.token) }),
            ...names.map((name) =>
              t.request("POST", "/items", { json: { name }, headers: bearer(user.token) })
            ),
            t.request("GET", "/items?limit=5", { headers: bearer(user.token) }),
            t.request("GET", "/auth/me", { headers: bearer(user.token) }),
          ]),
        );
        assertEquals(logout!.status, 204);
        const creates = others.slice(0, names.length);
        for (const r of creates) assert([201, 401].includes(r.status), `POST /items: ${r.status}`);
        for (const r of others.slice(names.length)) {
          assert([200, 401].includes(r.status), `GET: ${r.status}`);
        }
        // What was answered 201 exists; what was answered 401 does not.
        const rows = await t.deps.db.query<{ name: string }>(
          "SELECT name FROM items WHERE user_id = ? ORDER BY name",
          [user.id],
        );
        const created = names.filter((_, i) => creates[i]!.status === 201);
        assertEquals(rows.map((r) => r.name), created);
        // Afterwards the token is dead everywhere.
        assertEquals(await status(t, "GET", "/auth/me", user.token), 401);
        assertEquals(await status(t, "GET", "/items?limit=1", user.token), 401);
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] two logouts of one session: one 204, the other 204 or 401, never 5xx`, async () => {
    const t = await createTestApp(dialect, { env: ENV });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const user = await createUser(t);
        const answers = await settle(
          await Promise.all(
            [1, 2, 3].map(() => t.request("POST", "/auth/logout", { headers: bearer(user.token) })),
          ),
        );
        const statuses = answers.map((a) => a.status);
        assert(statuses.includes(204), `no logout succeeded: ${statuses}`);
        for (const s of statuses) assert([204, 401].includes(s), `logout: ${s}`);
        assertEquals(await status(t, "GET", "/auth/me", user.token), 401);
        await expectProblem(await refresh(t, user.refreshToken), 401);
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] refresh racing logout of the same session: the end state matches the answers`, async () => {
    const t = await createTestApp(dialect, { env: ENV });
    try {
      for (let round = 0; round < ROUNDS * 2; round++) {
        const user = await createUser(t);
        const [refreshed, logout] = await settle(
          await Promise.all([
            refresh(t, user.refreshToken),
            t.request("POST", "/auth/logout", { headers: bearer(user.token) }),
          ]),
        );
        assert([200, 401].includes(refreshed!.status), `refresh: ${refreshed!.status}`);
        assert([204, 401].includes(logout!.status), `logout: ${logout!.status}`);
        // At least one of them found the session.
        assert(refreshed!.status === 200 || logout!.status === 204, "both were refused");
        // The old access token is dead either way (rotated or logged out).
        assertEquals(await status(t, "GET", "/auth/me", user.token), 401);
        if (refreshed!.status === 200) {
          const tokens = refreshed!.body as Tokens;
          // Logged out after the rotation: the new pair died with the session. Refused
          // because the rotation came first: the new pair lives.
          const expected = logout!.status === 204 ? 401 : 200;
          assertEquals(await status(t, "GET", "/auth/me", tokens.access_token), expected);
        }
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] deactivation racing the user's own requests: served or 401, then 401`, async () => {
    const t = await createTestApp(dialect, { env: ENV });
    try {
      const admin = await login(t, TEST_ADMIN.username, TEST_ADMIN.password);
      for (let round = 0; round < ROUNDS; round++) {
        const user = await createUser(t);
        const answers = await settle(
          await Promise.all([
            t.request("DELETE", `/users/${user.id}`, { headers: bearer(admin.access_token) }),
            t.request("POST", "/items", {
              json: { name: `before deactivation ${round}` },
              headers: bearer(user.token),
            }),
            t.request("GET", `/users/${user.id}`, { headers: bearer(user.token) }),
            refresh(t, user.refreshToken),
            t.request("PATCH", `/users/${user.id}`, {
              json: { username: uniqueUsername("renamed") },
              headers: bearer(user.token),
            }),
          ]),
        );
        assertEquals(answers[0]!.status, 204);
        assert([201, 401].includes(answers[1]!.status), `POST /items: ${answers[1]!.status}`);
        assert([200, 401].includes(answers[2]!.status), `GET /users: ${answers[2]!.status}`);
        assert([200, 401].includes(answers[3]!.status), `refresh: ${answers[3]!.status}`);
        assert([200, 401].includes(answers[4]!.status), `PATCH /users: ${answers[4]!.status}`);
        // Deactivated means deactivated, whatever raced it: no token of the user works.
        const [row] = await t.deps.db.query<{ activated: unknown }>(
          "SELECT activated FROM users WHERE id = ?",
          [user.id],
        );
        assertEquals(Boolean(Number(row!.activated)), false);
        assertEquals(await status(t, "GET", "/auth/me", user.token), 401);
        if (answers[3]!.status === 200) {
          const tokens = answers[3]!.body as Tokens;
          assertEquals(await status(t, "GET", "/auth/me", tokens.access_token), 401);
        }
        const relogin = await t.request("POST", "/auth/token", {
          json: { username: user.username, password: user.password },
        });
        await expectProblem(relogin, 401);
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] deletes and edits of one item at once: one delete wins, the rest 404 or 200`, async () => {
    const t = await createTestApp(dialect, { env: ENV });
    try {
      const user = await createUser(t);
      for (let round = 0; round < ROUNDS; round++) {
        const created = await t.request("POST", "/items", {
          json: { name: `doomed ${round}` },
          headers: bearer(user.token),
        });
        const { id } = await created.json() as { id: number };
        const answers = await settle(
          await Promise.all([
            t.request("DELETE", `/items/${id}`, { headers: bearer(user.token) }),
            t.request("DELETE", `/items/${id}`, { headers: bearer(user.token) }),
            t.request("DELETE", `/items/${id}`, { headers: bearer(user.token) }),
            t.request("PATCH", `/items/${id}`, {
              json: { description: "edited while deleted" },
              headers: bearer(user.token),
            }),
            t.request("GET", `/items/${id}`, { headers: bearer(user.token) }),
          ]),
        );
        const deletes = answers.slice(0, 3).map((a) => a.status).sort();
        assertEquals(deletes, [204, 404, 404]);
        assert([200, 404].includes(answers[3]!.status), `PATCH: ${answers[3]!.status}`);
        assert([200, 404].includes(answers[4]!.status), `GET: ${answers[4]!.status}`);
        assertEquals(await status(t, "GET", `/items/${id}`, user.token), 404);
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] creates of one username at once: one 201, the rest 409`, async () => {
    const t = await createTestApp(dialect, { env: ENV });
    try {
      const admin = await login(t, TEST_ADMIN.username, TEST_ADMIN.password);
      for (let round = 0; round < ROUNDS; round++) {
        const username = uniqueUsername("twin");
        const answers = await settle(
          await Promise.all(Array.from({ length: 5 }, (_, i) =>
            t.request("POST", "/users", {
              json: { username: i % 2 ? username : username.toUpperCase(), role_id: 2 },
              headers: bearer(admin.access_token),
            }))),
        );
        // Usernames are unique regardless of case.
        assertEquals(answers.map((a) => a.status).sort(), [201, 409, 409, 409, 409]);
        const rows = await t.deps.db.query<{ n: number }>(
          "SELECT COUNT(*) AS n FROM users WHERE LOWER(username) = LOWER(?)",
          [username],
        );
        assertEquals(Number(rows[0]!.n), 1);
      }
    } finally {
      await t.close();
    }
  });
}

Deno.test({
  name: "[mysql] a transaction InnoDB picks as a deadlock victim runs again, and both commit",
  ignore: !DIALECTS.includes("mysql"),
  fn: async () => {
    const t = await createTestApp("mysql", { env: ENV });
    try {
      const user = await createUser(t);
      const ids: number[] = [];
      for (const name of ["left", "right"]) {
        const res = await t.request("POST", "/items", {
          json: { name },
          headers: bearer(user.token),
        });
        ids.push((await res.json() as { id: number }).id);
      }
      // Each transaction locks one row, waits until the other has locked the other row, then
      // wants that one too: a deadlock on the first attempt, by construction.
      let arrived = 0;
      let bothLocked!: () => void;
      const barrier = new Promise<void>((resolve) => (bothLocked = resolve));
      let attempts = 0;
      const crosswise = (first: number, second: number, text: string) =>
        t.deps.db.transaction(async (tx) => {
          attempts++;
          await tx.execute("UPDATE items SET description = ? WHERE id = ?", [text, first]);
          if (++arrived === 2) bothLocked();
          await barrier;
          await tx.execute("UPDATE items SET description = ? WHERE id = ?", [text, second]);
        });
      await Promise.all([crosswise(ids[0]!, ids[1]!, "one"), crosswise(ids[1]!, ids[0]!, "two")]);
      assertEquals(attempts, 3);
      const rows = await t.deps.db.query<{ description: string }>(
        "SELECT description FROM items WHERE id IN (?, ?)",
        ids,
      );
      // The victim ran last, so its text is on both rows.
      assertEquals(new Set(rows.map((r) => r.description)).size, 1);
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name: "[mysql] withLock waits for a held lock longer than one query may take",
  ignore: !DIALECTS.includes("mysql"),
  fn: async () => {
    const database = await createTestDatabase("mysql", { queryTimeoutMs: 300 });
    const other = database.open();
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let holding!: () => void;
      const holds = new Promise<void>((resolve) => (holding = resolve));
      const holder = other.withLock("race-test-lock", 0, async () => {
        holding();
        await held;
      });
      await holds;
      // The waiter may wait 5 s for the lock: more than the 300 ms query timeout.
      const waiter = database.db.withLock("race-test-lock", 5, () => Promise.resolve("got it"));
      await new Promise((resolve) => setTimeout(resolve, 700));
      release();
      assertEquals(await holder, { acquired: true, value: undefined });
      assertEquals(await waiter, { acquired: true, value: "got it" });
    } finally {
      await database.drop();
    }
  },
});
