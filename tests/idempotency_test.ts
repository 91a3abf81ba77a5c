/**
 * `Idempotency-Key` on every create (draft-ietf-httpapi-idempotency-key-header): a repeat is
 * answered from the stored first answer, the same key with another request is 422, a repeat
 * while the first runs is 409, callers never share keys, and keys expire and are purged.
 */
import { createHash } from "node:crypto";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, login, loginAdmin } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { runTokenPurge } from "@/cron/purge-expired-tokens.ts";

async function count(t: TestApp, table: string): Promise<number> {
  const rows = await t.deps.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] a create repeated with its Idempotency-Key creates once`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const owner = await createUser(t);
      const post = (key: string, json: unknown, token = owner.token) =>
        t.request("POST", "/items", {
          headers: { ...bearer(token), "Idempotency-Key": key },
          json,
        });

      await s.step("the repeat answers the first answer, marked as replayed", async () => {
        const first = await post("key-1", { name: "Once" });
        assertEquals(first.status, 201);
        assertEquals(first.headers.get("idempotent-replayed"), null);
        const body = await first.text();
        const before = await count(t, "items");
        const again = await post("key-1", { name: "Once" });
        assertEquals(again.status, 201);
        assertEquals(again.headers.get("idempotent-replayed"), "true");
        assertEquals(again.headers.get("location"), first.headers.get("location"));
        assertEquals(again.headers.get("etag"), first.headers.get("etag"));
        assertEquals(await again.text(), body);
        assertEquals(await count(t, "items"), before, "nothing created twice");
      });

      await s.step("a quoted key (a Structured Field string) is the same key", async () => {
        const again = await post('"key-1"', { name: "Once" });
        assertEquals(again.headers.get("idempotent-replayed"), "true");
        await again.body?.cancel();
      });

      await s.step("the same key with another request is 422 and creates nothing", async () => {
        const before = await count(t, "items");
        const res = await post("key-1", { name: "Something else" });
        assertEquals((await expectProblem(res, 422)).code, "idempotency_key_reused");
        assertEquals(await count(t, "items"), before);
      });

      await s.step("a stored error answer is replayed too (a 409 stays a 409)", async () => {
        const taken = await post("key-2", { name: "Once" });
        await expectProblem(taken, 409);
        const again = await post("key-2", { name: "Once" });
        assertEquals(again.headers.get("idempotent-replayed"), "true");
        await expectProblem(again, 409);
      });

      await s.step("keys of different callers never collide", async () => {
        const other = await createUser(t);
        const res = await post("key-1", { name: "Once" }, other.token);
        assertEquals(res.status, 201);
        assertEquals(res.headers.get("idempotent-replayed"), null);
        await res.body?.cancel();
      });

      await s.step("a malformed key is 422 and creates nothing", async () => {
        const before = await count(t, "items");
        for (const key of ["", "two words", "x".repeat(256), "caf\u00e9", '"'] as const) {
          const res = await t.request("POST", "/items", {
            headers: { ...bearer(owner.token), "Idempotency-Key": key },
            json: { name: `Malformed ${key.length}` },
          });
          const problem = await expectProblem(res, 422);
          assertEquals(
            (problem.errors as { path: string }[])[0]?.path,
            "header.Idempotency-Key",
            JSON.stringify(key),
          );
        }
        assertEquals(await count(t, "items"), before);
      });

      await s.step("without the header a create behaves as always", async () => {
        const a = await t.request("POST", "/items", {
          headers: bearer(owner.token),
          json: { name: "Plain" },
        });
        assertEquals(a.status, 201);
        await a.body?.cancel();
      });

      await s.step(
        "after IDEMPOTENCY_TTL the key is free again, and the purge removes it",
        async () => {
          t.clock.advance(24 * 3600_000 + 1000);
          const { access_token } = await login(t, owner.username, owner.password);
          const fresh = await post("key-1", { name: "After expiry" }, access_token);
          assertEquals(fresh.status, 201);
          assertEquals(fresh.headers.get("idempotent-replayed"), null);
          await fresh.body?.cancel();
          t.clock.advance(24 * 3600_000 + 1000);
          assert((await count(t, "idempotency_keys")) > 0);
          await runTokenPurge({ db: t.deps.db, clock: t.clock });
          assertEquals(await count(t, "idempotency_keys"), 0);
        },
      );
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] a repeat while the first create still runs is 409`, async () => {
    const t = await createTestApp(dialect);
    try {
      const owner = await createUser(t);
      // The first request's reservation, as an instance that is still working on it leaves it.
      await t.deps.db.execute(
        "INSERT INTO idempotency_keys (caller, idempotency_key, fingerprint, created_at, expires_at) " +
          "VALUES (?, ?, ?, ?, ?)",
        [
          `u:${owner.id}`,
          "busy",
          createHash("sha256").update(`POST /items\n${JSON.stringify({ name: "Concurrent" })}`)
            .digest("hex"),
          t.clock.now(),
          new Date(t.clock.now().getTime() + 3600_000),
        ],
      );
      const items = await count(t, "items");
      const res = await t.request("POST", "/items", {
        headers: { ...bearer(owner.token), "Idempotency-Key": "busy" },
        json: { name: "Concurrent" },
      });
      const problem = await expectProblem(res, 409);
      assert(String(problem.detail).includes("still in progress"));
      assertEquals(res.headers.get("retry-after"), "1");
      assertEquals(await count(t, "items"), items, "nothing created meanwhile");
      // Two concurrent requests with one key: one creates, the other is 409 or replays.
      const send = () =>
        t.request("POST", "/items", {
          headers: { ...bearer(owner.token), "Idempotency-Key": "race" },
          json: { name: "Raced" },
        });
      const answers = await Promise.all([send(), send(), send()]);
      const statuses = answers.map((r) => r.status);
      assertEquals(statuses.filter((s) => s === 201).length >= 1, true, String(statuses));
      assert(statuses.every((s) => s === 201 || s === 409), String(statuses));
      for (const r of answers) await r.body?.cancel();
      assertEquals(await count(t, "items"), items + 1, "created once");
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] users, versions and API keys take an Idempotency-Key too`, async () => {
    const t = await createTestApp(dialect);
    try {
      const admin = await loginAdmin(t);
      const auth = bearer(admin.access_token);
      const creates: Array<[string, unknown, string]> = [
        ["/users", { username: "idem-user", role_id: 2, password: "idem-user-password" }, "users"],
        ["/versions", { version: "9.9", supported: true }, "versions"],
        ["/auth/api-keys", { name: "idem key", scopes: ["items:read"] }, "api_keys"],
      ];
      for (const [path, json, table] of creates) {
        const headers = { ...auth, "Idempotency-Key": `create ${path}`.replaceAll(" ", "-") };
        const first = await t.request("POST", path, { headers, json });
        assertEquals(first.status, 201, path);
        const before = await count(t, table);
        const again = await t.request("POST", path, { headers, json });
        assertEquals(again.status, 201, path);
        assertEquals(again.headers.get("idempotent-replayed"), "true", path);
        assertEquals(await again.json(), await first.json(), path);
        assertEquals(await count(t, table), before, path);
      }
    } finally {
      await t.close();
    }
  });
}
