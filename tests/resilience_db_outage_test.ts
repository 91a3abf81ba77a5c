/**
 * Database outage: a TCP proxy under the test's control sits between the service and MariaDB.
 * While it is cut, database-backed requests answer 503 problem+json quickly, `/livez` stays
 * 200, `/readyz` turns 503 and nothing hangs; once it is restored the same app recovers
 * without a restart. Two failure modes: connections refused, and a black hole (a partition:
 * packets vanish, connections stay open, and after healing the old ones stay dead).
 */
import type { Database } from "@/db/database.ts";
import { openMysql } from "@/db/mysql.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, TEST_ADMIN, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, login } from "./helpers/auth.ts";
import { createTestDatabase, MYSQL_SERVER_URL, type TestDatabase } from "./helpers/databases.ts";
import { type OutageMode, TcpProxy } from "./helpers/tcp-proxy.ts";

/** The per-query timeout of the app under test; answers must come well within 2 s. */
const QUERY_TIMEOUT = "1s";
const ANSWER_WITHIN_MS = 2_000;
const POOL_SIZE = 4;

interface ProxiedApp {
  t: TestApp;
  proxy: TcpProxy;
  close(): Promise<void>;
}

/** A migrated MySQL test database, and an app that reaches it only through a proxy. */
async function createProxiedApp(): Promise<ProxiedApp> {
  const real = await createTestDatabase("mysql");
  const server = new URL(real.url);
  const proxy = await TcpProxy.start({
    hostname: server.hostname,
    port: Number(server.port || 3306),
  });
  const proxied = new URL(real.url);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(proxy.port);
  const opened: Database[] = [];
  const database: TestDatabase = {
    ...real,
    url: proxied.toString(),
    open: () => {
      const db = openMysql({
        url: proxied.toString(),
        poolSize: POOL_SIZE,
        queueLimit: 100,
        queryTimeoutMs: 1_000,
      });
      opened.push(db);
      return db;
    },
  };
  const t = await createTestApp("mysql", {
    database,
    env: { DB_QUERY_TIMEOUT: QUERY_TIMEOUT, DB_POOL_SIZE: String(POOL_SIZE) },
  });
  return {
    t,
    proxy,
    close: async () => {
      await proxy.close();
      for (const db of opened) await db.close().catch(() => {});
      await real.drop();
    },
  };
}

/** Send a GET and measure how long the answer took. */
async function timed(
  t: TestApp,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ res: Response; ms: number }> {
  const started = performance.now();
  const res = await t.request("GET", path, { headers });
  return { res, ms: performance.now() - started };
}

/** Poll `/readyz` until it answers 200, for at most `limitMs`. */
async function waitUntilReady(t: TestApp, limitMs: number): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  while (performance.now() < deadline) {
    const res = await t.request("GET", "/readyz");
    await res.body?.cancel();
    if (res.status === 200) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

for (const mode of ["refuse", "blackhole"] as const satisfies readonly OutageMode[]) {
  Deno.test({
    name:
      `[mysql] a database outage (${mode}) answers 503 quickly, keeps /livez up and recovers without a restart`,
    ignore: !MYSQL_SERVER_URL,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async (test) => {
      const { t, proxy, close } = await createProxiedApp();
      try {
        const alice = await createUser(t);
        const admin = await login(t, TEST_ADMIN.username, TEST_ADMIN.password);
        const created = await t.request("POST", "/items", {
          json: { name: "survives the outage" },
          headers: bearer(alice.token),
        });
        assertEquals(created.status, 201);
        const item = await created.json() as { id: number };

        await test.step("before the outage everything answers 200", async () => {
          // Concurrently, so the pool opens all of its connections: each one is caught by the cut.
          const paths = ["/readyz", "/items?limit=5", `/items/${item.id}`, "/auth/me"];
          const answers = await Promise.all(
            Array.from({ length: POOL_SIZE * 3 }, (_, i) => paths[i % paths.length]!).map(
              async (path) => {
                const res = await t.request("GET", path, { headers: bearer(alice.token) });
                return { path, status: res.status, text: await res.text() };
              },
            ),
          );
          for (const { path, status, text } of answers) {
            assertEquals(status, 200, `${path}: ${text}`);
          }
          assertEquals(t.deps.db.stats().idle + t.deps.db.stats().inUse, POOL_SIZE);
        });

        proxy.cut(mode);

        await test.step("while cut: DB-backed requests answer 503 problem+json within 2 s", async () => {
          // Concurrent requests, more than the pool holds: none may hang or queue forever.
          const paths = [
            "/items?limit=20",
            `/items/${item.id}`,
            "/auth/me",
            "/items?limit=20&name=outage",
            `/items/${item.id}`,
            "/auth/sessions",
            "/items?limit=1",
            "/roles",
          ];
          const answers = await Promise.all(
            paths.map((path) => timed(t, path, bearer(alice.token))),
          );
          for (const [i, { res, ms }] of answers.entries()) {
            const problem = await expectProblem(res, 503);
            assertEquals(problem.code, "service_unavailable", paths[i]);
            assert(ms < ANSWER_WITHIN_MS, `${paths[i]} took ${Math.round(ms)} ms`);
          }
          // A write too: creating an item.
          const started = performance.now();
          const write = await t.request("POST", "/items", {
            json: { name: "written during the outage" },
            headers: bearer(alice.token),
          });
          await expectProblem(write, 503);
          assert(performance.now() - started < ANSWER_WITHIN_MS, "POST /items took too long");
          // Logging in needs the database as well.
          const login = await t.request("POST", "/auth/token", {
            json: { username: alice.username, password: alice.password },
          });
          await expectProblem(login, 503);
        });

        await test.step("while cut: /livez stays 200 and /readyz turns 503", async () => {
          const livez = await timed(t, "/livez");
          assertEquals(livez.res.status, 200);
          await livez.res.body?.cancel();
          const readyz = await timed(t, "/readyz");
          await expectProblem(readyz.res, 503);
          assert(readyz.ms < ANSWER_WITHIN_MS, `/readyz took ${Math.round(readyz.ms)} ms`);
        });

        await proxy.restore();

        await test.step("after restore: the same app recovers, data and sessions intact", async () => {
          assert(await waitUntilReady(t, 10_000), "/readyz did not turn 200 again");
          const res = await t.request("GET", `/items/${item.id}`, { headers: bearer(alice.token) });
          const text = await res.text();
          assertEquals(res.status, 200, text);
          assertEquals((JSON.parse(text) as { id: number }).id, item.id);
          // More requests than the pool size: no connection was left stuck.
          const many = await Promise.all(
            Array.from(
              { length: POOL_SIZE * 3 },
              () => t.request("GET", "/items?limit=5", { headers: bearer(admin.access_token) }),
            ),
          );
          for (const r of many) {
            assertEquals(r.status, 200);
            await r.body?.cancel();
          }
          const write = await t.request("POST", "/items", {
            json: { name: "written after the outage" },
            headers: bearer(alice.token),
          });
          const written = await write.text();
          assertEquals(write.status, 201, written);
          // The write attempted during the outage did not happen.
          const list = await t.request("GET", "/items?name=during%20the%20outage", {
            headers: bearer(alice.token),
          });
          assertEquals((await list.json() as { total: number }).total, 0);
        });
      } finally {
        await t.close().catch(() => {});
        await close();
      }
    },
  });
}
