/**
 * API keys: created from a session and shown once, stored as digests, acting as their owner
 * narrowed to their scopes, unable to manage credentials, revoked, expired, killed with their
 * owner, and limited per key.
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { ManualClock } from "@/runtime/clock.ts";
import { createMetrics } from "@/runtime/metrics.ts";
import { generateToken, TOKEN_PATTERN } from "@/runtime/tokens.ts";
import { createApiKeyAuthenticator } from "@/modules/api-keys/api-key-authenticator.ts";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin, type TestUser } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { captureLogs, logText } from "./helpers/logs.ts";

const KEY = /^iak_[A-Za-z0-9_-]{43}$/;
const TEST_REDIS_URL = Deno.env.get("TEST_REDIS_URL") || undefined;

interface CreatedKey {
  id: number;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  key: string;
}

async function createKey(
  t: TestApp,
  token: string,
  body: Record<string, unknown>,
): Promise<CreatedKey> {
  const res = await t.request("POST", "/auth/api-keys", { json: body, headers: bearer(token) });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`Key creation failed: ${res.status} ${text}`);
  return JSON.parse(text) as CreatedKey;
}

async function keyCount(t: TestApp, userId: number): Promise<number> {
  const rows = await t.deps.db.query<{ n: number }>(
    "SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?",
    [userId],
  );
  return Number(rows[0]!.n);
}

async function status(t: TestApp, method: string, path: string, token: string, json?: unknown) {
  const res = await t.request(method, path, { headers: bearer(token), json });
  await res.body?.cancel();
  return res.status;
}

async function createItem(t: TestApp, user: TestUser): Promise<number> {
  const res = await t.request("POST", "/items", {
    json: { name: `item ${crypto.randomUUID()}` },
    headers: bearer(user.token),
  });
  return (await res.json() as { id: number }).id;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] POST /auth/api-keys answers 201 with the key once and stores only its SHA-256 digest`, async () => {
    const t = await createTestApp(dialect);
    try {
      const alice = await createUser(t);
      const res = await t.request("POST", "/auth/api-keys", {
        json: { name: "export", scopes: ["items:read", "items:read", "users:read"] },
        headers: bearer(alice.token),
      });
      assertEquals(res.status, 201);
      assertStringIncludes(res.headers.get("content-type") ?? "", "application/json");
      assertEquals(res.headers.get("cache-control"), "no-store");
      const created = await res.json() as CreatedKey;
      assert(KEY.test(created.key), created.key);
      assertEquals(res.headers.get("location"), `/auth/api-keys/${created.id}`);
      assertEquals(created.name, "export");
      assertEquals(created.prefix, created.key.slice(0, 12));
      assertEquals(created.scopes, ["items:read", "users:read"]);
      assertEquals(created.last_used_at, null);
      assertEquals(created.expires_at, null);
      assertEquals(created.created_at, t.clock.now().toISOString());

      const rows = await t.deps.db.query<Record<string, unknown>>(
        "SELECT * FROM api_keys WHERE id = ?",
        [created.id],
      );
      assertEquals(rows[0]!.key_hash, createHash("sha256").update(created.key).digest("hex"));
      const stored = JSON.stringify(rows, (_k, v) => typeof v === "bigint" ? String(v) : v);
      assertEquals(stored.includes(created.key.slice(12)), false, "the key is stored in clear");

      const list = await t.request("GET", "/auth/api-keys", { headers: bearer(alice.token) });
      assertEquals(list.status, 200);
      const text = await list.text();
      assertEquals(text.includes(created.key), false, "the list shows the key");
      const { key: _key, ...shown } = created;
      assertEquals(JSON.parse(text), [shown]);
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] POST /auth/api-keys rejects bad requests with 422 or 409 and creates nothing`, async (s) => {
    const t = await createTestApp(dialect, { env: { API_KEYS_MAX_PER_USER: "2" } });
    try {
      const alice = await createUser(t);
      await createKey(t, alice.token, { name: "first", scopes: ["items:read"] });
      const reject = async (body: unknown, code: number, path?: string) => {
        const res = await t.request("POST", "/auth/api-keys", {
          json: body,
          headers: bearer(alice.token),
        });
        const problem = await expectProblem(res, code);
        if (path) {
          const errors = problem.errors as { path: string }[];
          assert(errors.some((e) => e.path === path), JSON.stringify(problem));
        }
        assertEquals(await keyCount(t, alice.id), 1);
      };
      await s.step("an unknown scope name is 422", async () => {
        await reject({ name: "k", scopes: ["items:read", "items:admin"] }, 422, "body.scopes.1");
      });
      await s.step("an empty scope list is 422", async () => {
        await reject({ name: "k", scopes: [] }, 422, "body.scopes");
      });
      await s.step("an expires_at in the past (or now) is 422", async () => {
        const past = new Date(t.clock.now().getTime() - 1000).toISOString();
        await reject(
          { name: "k", scopes: ["items:read"], expires_at: past },
          422,
          "body.expires_at",
        );
        const now = t.clock.now().toISOString();
        await reject(
          { name: "k", scopes: ["items:read"], expires_at: now },
          422,
          "body.expires_at",
        );
      });
      await s.step("a scope the owner's role cannot hold is 422", async () => {
        await reject({ name: "k", scopes: ["versions:write"] }, 422, "body.scopes.0");
      });
      await s.step("a malformed expires_at, an empty name or an unknown field is 422", async () => {
        await reject({ name: "k", scopes: ["items:read"], expires_at: "tomorrow" }, 422);
        await reject({ name: "  ", scopes: ["items:read"] }, 422);
        await reject({ name: "k", scopes: ["items:read"], user_id: 1 }, 422);
      });
      await s.step("a duplicate name for the same owner is 409", async () => {
        await reject({ name: "first", scopes: ["items:write"] }, 409);
        // Another owner may use the name.
        const bob = await createUser(t);
        await createKey(t, bob.token, { name: "first", scopes: ["items:read"] });
      });
      await s.step("beyond API_KEYS_MAX_PER_USER keys is 409", async () => {
        await createKey(t, alice.token, { name: "second", scopes: ["items:read"] });
        const res = await t.request("POST", "/auth/api-keys", {
          json: { name: "third", scopes: ["items:read"] },
          headers: bearer(alice.token),
        });
        const problem = await expectProblem(res, 409);
        assertStringIncludes(String(problem.detail), "at most 2 API keys");
        assertEquals(await keyCount(t, alice.id), 2);
      });
      await s.step("without a token it is 401", async () => {
        const res = await t.request("POST", "/auth/api-keys", {
          json: { name: "x", scopes: ["items:read"] },
        });
        await expectProblem(res, 401);
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] concurrent key creations never pass the per-user bound or a name`, async () => {
    const t = await createTestApp(dialect, { env: { API_KEYS_MAX_PER_USER: "3" } });
    try {
      const alice = await createUser(t);
      const create = (name: string) =>
        t.request("POST", "/auth/api-keys", {
          json: { name, scopes: ["items:read"] },
          headers: bearer(alice.token),
        }).then(async (res) => {
          await res.body?.cancel();
          return res.status;
        });
      const distinct = await Promise.all(Array.from({ length: 8 }, (_, i) => create(`k${i}`)));
      assertEquals(distinct.filter((s) => s === 201).length, 3, String(distinct));
      assertEquals(distinct.filter((s) => s === 409).length, 5, String(distinct));
      assertEquals(await keyCount(t, alice.id), 3);

      const bob = await createUser(t);
      const same = await Promise.all(
        Array.from({ length: 6 }, () =>
          t.request("POST", "/auth/api-keys", {
            json: { name: "same", scopes: ["items:read"] },
            headers: bearer(bob.token),
          }).then(async (res) => {
            await res.body?.cancel();
            return res.status;
          })),
      );
      assertEquals(same.sort(), [201, 409, 409, 409, 409, 409]);
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] an API key acts as its owner narrowed to its scopes`, async () => {
    const t = await createTestApp(dialect);
    try {
      const alice = await createUser(t);
      const itemId = await createItem(t, alice);
      const reader = await createKey(t, alice.token, { name: "reader", scopes: ["items:read"] });
      const writer = await createKey(t, alice.token, { name: "writer", scopes: ["items:write"] });

      assertEquals(await status(t, "GET", `/items/${itemId}`, reader.key), 200);
      assertEquals(await status(t, "GET", "/items", reader.key), 200);
      const me = await t.request("GET", "/auth/me", { headers: bearer(reader.key) });
      assertEquals((await me.json() as { id: number }).id, alice.id);

      const denied = await t.request("POST", "/items", {
        json: { name: "nope" },
        headers: bearer(reader.key),
      });
      const problem = await expectProblem(denied, 403);
      assertEquals(problem.code, "insufficient_scope");
      assertEquals(
        denied.headers.get("www-authenticate"),
        'Bearer error="insufficient_scope", scope="items:write"',
      );
      assertEquals(await status(t, "GET", `/users/${alice.id}`, reader.key), 403);

      // Writes are the owner's: the item belongs to alice.
      const created = await t.request("POST", "/items", {
        json: { name: "by key" },
        headers: bearer(writer.key),
      });
      assertEquals(created.status, 201);
      assertEquals((await created.json() as { user_id: number }).user_id, alice.id);
      assertEquals(await status(t, "GET", `/items/${itemId}`, writer.key), 403);

      // Never beyond the owner's rights: another user's item cannot be deleted.
      const bob = await createUser(t);
      const bobsItem = await createItem(t, bob);
      assertEquals(await status(t, "DELETE", `/items/${bobsItem}`, writer.key), 403);
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] an API key cannot manage keys, sessions or passwords`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const alice = await createUser(t);
      const all = await createKey(t, alice.token, {
        name: "all",
        scopes: ["items:read", "items:write", "users:read", "users:write"],
      });
      for (
        const [method, path, body] of [
          ["POST", "/auth/api-keys", { name: "minted", scopes: ["items:read"] }],
          ["GET", "/auth/api-keys", undefined],
          ["DELETE", `/auth/api-keys/${all.id}`, undefined],
          ["GET", "/auth/sessions", undefined],
          ["DELETE", "/auth/sessions", undefined],
          ["POST", "/auth/logout", undefined],
          ["PATCH", `/users/${alice.id}`, { password: "new-password-123", current_password: "x" }],
          ["PATCH", `/users/${alice.id}`, { password: "new-password-123" }],
        ] as const
      ) {
        await s.step(`${method} ${path} ${body ? JSON.stringify(body) : ""} is 403`, async () => {
          const res = await t.request(method, path, { json: body, headers: bearer(all.key) });
          await expectProblem(res, 403);
        });
      }
      await s.step("nothing changed, and other account changes are allowed", async () => {
        assertEquals(await keyCount(t, alice.id), 1);
        assertEquals(await status(t, "GET", "/auth/me", alice.token), 200);
        const renamed = await t.request("PATCH", `/users/${alice.id}`, {
          json: { username: `${alice.username}_2` },
          headers: bearer(all.key),
        });
        assertEquals(renamed.status, 200);
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] revoked and expired keys are 401; others' keys are 404; admins manage any user's keys`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const alice = await createUser(t);
      const bob = await createUser(t);
      const admin = await loginAdmin(t);
      await s.step("the owner revokes a key: 204, then it is 401 at once", async () => {
        const key = await createKey(t, alice.token, { name: "gone", scopes: ["items:read"] });
        assertEquals(await status(t, "GET", "/items", key.key), 200);
        assertEquals(await status(t, "DELETE", `/auth/api-keys/${key.id}`, alice.token), 204);
        const res = await t.request("GET", "/items", { headers: bearer(key.key) });
        await expectProblem(res, 401);
        assertEquals(res.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
        assertEquals(await status(t, "DELETE", `/auth/api-keys/${key.id}`, alice.token), 404);
      });
      await s.step("an expired key is 401", async () => {
        const expiresAt = new Date(t.clock.now().getTime() + 3_600_000).toISOString();
        const key = await createKey(t, alice.token, {
          name: "short",
          scopes: ["items:read"],
          expires_at: expiresAt,
        });
        assertEquals(key.expires_at, expiresAt);
        assertEquals(await status(t, "GET", "/items", key.key), 200);
        t.clock.advance(3_600_000);
        await expectProblem(await t.request("GET", "/items", { headers: bearer(key.key) }), 401);
      });
      const kept = await createKey(t, alice.token, { name: "kept", scopes: ["items:read"] });
      await s.step("another user's key id is 404, and their list is 403", async () => {
        assertEquals(await status(t, "DELETE", `/auth/api-keys/${kept.id}`, bob.token), 404);
        assertEquals(await status(t, "GET", `/auth/api-keys?user_id=${alice.id}`, bob.token), 403);
        assertEquals(await status(t, "GET", `/auth/api-keys?user_id=${bob.id}`, bob.token), 200);
        assertEquals(await status(t, "GET", "/items", kept.key), 200);
      });
      await s.step("a malformed key id is 422, a malformed key is 401", async () => {
        assertEquals(await status(t, "DELETE", "/auth/api-keys/abc", alice.token), 422);
        assertEquals(await status(t, "GET", "/items", `${kept.key.slice(0, -1)}`), 401);
        assertEquals(await status(t, "GET", "/items", `${kept.key}x`), 401);
      });
      await s.step("an admin lists and revokes another user's keys", async () => {
        const list = await t.request("GET", `/auth/api-keys?user_id=${alice.id}`, {
          headers: bearer(admin.access_token),
        });
        assertEquals(list.status, 200);
        const keys = await list.json() as { id: number }[];
        assertEquals(keys.map((k) => k.id).includes(kept.id), true);
        assertEquals(
          await status(t, "GET", "/auth/api-keys?user_id=4000000000", admin.access_token),
          404,
        );
        assertEquals(
          await status(t, "DELETE", `/auth/api-keys/${kept.id}`, admin.access_token),
          204,
        );
        assertEquals(await status(t, "GET", "/items", kept.key), 401);
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] deactivating the owner kills its keys at once; a password change keeps them`, async () => {
    const t = await createTestApp(dialect);
    try {
      const alice = await createUser(t);
      const key = await createKey(t, alice.token, { name: "ci", scopes: ["items:read"] });
      // A password change revokes other sessions, not keys.
      const changed = await t.request("PATCH", `/users/${alice.id}`, {
        json: { password: "a-new-password-123", current_password: alice.password },
        headers: bearer(alice.token),
      });
      assertEquals(changed.status, 200);
      assertEquals(await status(t, "GET", "/items", key.key), 200);

      // Deactivated outside the API (the lookup checks the owner): 401 at once.
      await t.deps.db.execute("UPDATE users SET activated = 0 WHERE id = ?", [alice.id]);
      assertEquals(await status(t, "GET", "/items", key.key), 401);
      await t.deps.db.execute("UPDATE users SET activated = 1 WHERE id = ?", [alice.id]);
      assertEquals(await status(t, "GET", "/items", key.key), 200);

      // Deactivated through the API: 401 at once, and the keys are gone for good.
      const admin = await loginAdmin(t);
      assertEquals(await status(t, "DELETE", `/users/${alice.id}`, admin.access_token), 204);
      assertEquals(await status(t, "GET", "/items", key.key), 401);
      assertEquals(await keyCount(t, alice.id), 0);
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] an API key's last_used_at is written at most once a minute`, async () => {
    const t = await createTestApp(dialect, {
      clock: new ManualClock(new Date("2026-03-01T00:00:00Z")),
    });
    try {
      const alice = await createUser(t);
      const key = await createKey(t, alice.token, { name: "ci", scopes: ["items:read"] });
      const lastUsed = async () => {
        const res = await t.request("GET", "/auth/api-keys", { headers: bearer(alice.token) });
        return (await res.json() as { last_used_at: string | null }[])[0]!.last_used_at;
      };
      assertEquals(await status(t, "GET", "/items", key.key), 200);
      assertEquals(await lastUsed(), "2026-03-01T00:00:00.000Z");
      t.clock.advance(59_000);
      assertEquals(await status(t, "GET", "/items", key.key), 200);
      assertEquals(await lastUsed(), "2026-03-01T00:00:00.000Z");
      t.clock.advance(2_000);
      assertEquals(await status(t, "GET", "/items", key.key), 200);
      assertEquals(await lastUsed(), "2026-03-01T00:01:01.000Z");
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] keys, sessions and anonymous addresses are rate-limited apart; logs and metrics name the key id only`, async () => {
    const logs = await captureLogs();
    const t = await createTestApp(dialect, {
      env: {
        RATE_LIMIT_API_MAX: "3",
        RATE_LIMIT_API_KEY_MAX: "2",
        RATE_LIMIT_API_KEY_WINDOW: "30s",
      },
    });
    try {
      // The logins of createUser are anonymous requests of the test address: not counted here.
      const alice = await createUser(t);
      const one = await createKey(t, alice.token, { name: "one", scopes: ["items:read"] });
      const two = await createKey(t, alice.token, { name: "two", scopes: ["items:read"] });
      for (let i = 1; i <= 2; i++) {
        const res = await t.request("GET", "/items", { headers: bearer(one.key) });
        await res.body?.cancel();
        assertEquals(res.status, 200);
        assertEquals(res.headers.get("ratelimit-policy"), '"api-key";q=2;w=30');
        assertEquals(res.headers.get("ratelimit"), `"api-key";r=${2 - i};t=30`);
      }
      const limited = await t.request("GET", "/items", { headers: bearer(one.key) });
      await expectProblem(limited, 429);
      assertEquals(limited.headers.get("retry-after"), "30");
      // The other key, the owner's session (2 of its 3 used creating the keys) and an address
      // each have their own budget: the key's requests took nothing from them.
      assertEquals(await status(t, "GET", "/items", two.key), 200);
      assertEquals(await status(t, "GET", "/auth/me", alice.token), 200);
      assertEquals(await status(t, "GET", "/auth/me", alice.token), 429);
      const anonymous = await t.app.request("/roles", {}, {
        remoteAddr: { transport: "tcp", hostname: "203.0.113.77", port: 50_000 },
      });
      await anonymous.body?.cancel();
      assertEquals(anonymous.status, 200);
      assertEquals(anonymous.headers.get("ratelimit"), '"api";r=2;t=60');
      t.clock.advance(30_000);
      assertEquals(await status(t, "GET", "/items", one.key), 200);

      const text = await t.deps.metrics.render();
      assertStringIncludes(text, 'rate_limited_requests_total{scope="api_key"} 1');
      assertStringIncludes(text, `api_key_requests_total{key_id="${one.id}"} 4`);
      const access = logs.filter((r) => r.properties.route === "/items" && r.properties.status);
      assert(access.some((r) => r.properties.api_key_id === one.id), logText(access));
      assert(access.every((r) => r.properties.user_id === alice.id), logText(access));
      for (const key of [one.key, two.key]) {
        assertEquals(logText(logs).includes(key.slice(4)), false, "a key was logged");
        assertEquals(text.includes(key.slice(4)), false, "a key is in the metrics");
      }
    } finally {
      await t.close();
    }
  });
}

Deno.test("the API-key authenticator takes iak_ + 43 base64url characters and nothing else", () => {
  const authenticator = createApiKeyAuthenticator({
    clock: new ManualClock(),
    metrics: createMetrics({ version: "test" }),
  });
  const session = generateToken();
  assertEquals(authenticator.accepts(session), false, "a 43-character session token");
  assertEquals(authenticator.accepts(`iak_${session}`), true);
  assertEquals(authenticator.accepts(`iak_${session.slice(1)}`), false);
  assertEquals(authenticator.accepts(`iak_${session}A`), false);
  assertEquals(authenticator.accepts(`IAK_${session}`), false);
  assertEquals(authenticator.accepts(`iak_${session.slice(1)}+`), false);
  // And the session authenticator never takes a key.
  assertEquals(TOKEN_PATTERN.test(`iak_${session}`), false);
});

Deno.test({
  name: "two app instances sharing Redis enforce one limit per API key",
  ignore: !TEST_REDIS_URL,
  fn: async () => {
    const prefix = `items-api-test-${crypto.randomUUID()}:`;
    const env = {
      REDIS_URL: TEST_REDIS_URL!,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMIT_API_KEY_MAX: "3",
    };
    const clock = new ManualClock(new Date("2026-03-01T00:00:00Z"));
    const a = await createTestApp("sqlite", { env, clock, file: true });
    const b = await createTestApp("sqlite", { env, clock, database: a.database });
    try {
      assertEquals(a.deps.rateLimiter.store.kind, "redis");
      const alice = await createUser(a);
      const key = await createKey(a, alice.token, { name: "shared", scopes: ["items:read"] });
      const statuses = [];
      for (const app of [a, b, a, b, a]) statuses.push(await status(app, "GET", "/items", key.key));
      assertEquals(statuses, [200, 200, 200, 429, 429]);
      const text = await b.deps.metrics.render();
      assertStringIncludes(text, 'rate_limited_requests_total{scope="api_key"} 1');
    } finally {
      await b.close();
      await a.close();
      const redis = new Redis(TEST_REDIS_URL!, { maxRetriesPerRequest: 1 });
      const keys = await redis.keys(`${prefix}*`);
      assert(keys.length > 0, "the test wrote no keys under its prefix");
      await redis.del(...keys);
      await redis.quit();
    }
  },
});
