/**
 * `deno task bench:in-process`: CPU per authenticated `GET /items/{id}`, measured inside one
 * process so the HTTP server and machine drift matter less than in `deno task bench`. The app
 * (built as the tests build it, access log on and written to stdout) and a minimal read — the
 * SHA-256 of the token, the session lookup and the item lookup through a mysql2 pool, as
 * `bench/baselines/mysql.ts` does them — each serve `BENCH_REQUESTS` reads from 32 concurrent
 * callers, alternating for `BENCH_ROUNDS` rounds. Prints user + system CPU µs per read. The
 * same reads with a provider JWT (RS256, from a real `oidc-provider` on loopback, which is
 * idle during the rounds) show what the JWT path costs beside the session token.
 *
 * Needs `TEST_MYSQL_URL` (e.g. `mysql://root@127.0.0.1:3306`); the database it creates is dropped
 * at the end. Run with stdout to /dev/null: `deno task bench:in-process > /dev/null`.
 *
 * @module
 */
import process from "node:process";
import { createHash } from "node:crypto";
import mysql from "mysql2/promise";
import { setupLogging } from "@/runtime/logger.ts";
import { createTestApp, TEST_ADMIN } from "../tests/helpers/app.ts";
import { startTestProvider } from "../tests/helpers/oidc-provider.ts";

const REQUESTS = Number(Deno.env.get("BENCH_REQUESTS") ?? "3000");
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? "3");
const CONCURRENCY = 32;
const ITEMS = 50;

const provider = await startTestProvider({ clients: [{ id: "bench" }] });
const t = await createTestApp("mysql", {
  env: { OIDC_ISSUER: provider.issuer, OIDC_AUDIENCE: provider.audience },
});
await setupLogging({ level: "info", format: "json" });
const login = await t.request("POST", "/auth/token", {
  json: { username: TEST_ADMIN.username, password: TEST_ADMIN.password },
});
const { access_token: token } = await login.json();
const auth = { Authorization: `Bearer ${token}` };
const ids: number[] = [];
for (let i = 0; i < ITEMS; i++) {
  const created = await t.request("POST", "/items", {
    json: { name: `item ${i}`, description: "in-process bench" },
    headers: auth,
  });
  ids.push((await created.json()).id);
}
const jwt = {
  Authorization: `Bearer ${await provider.mint({ roles: ["user"], scope: "items:read" })}`,
};
const pool = mysql.createPool({ uri: t.database.url, connectionLimit: 10, timezone: "Z" });

async function readThroughApp(i: number): Promise<void> {
  const res = await t.app.request(`/items/${ids[i % ITEMS]}`, { headers: auth });
  await res.text();
  if (res.status !== 200) throw new Error(`GET /items answered ${res.status}`);
}

async function readThroughAppWithJwt(i: number): Promise<void> {
  const res = await t.app.request(`/items/${ids[i % ITEMS]}`, { headers: jwt });
  await res.text();
  if (res.status !== 200) throw new Error(`GET /items with a JWT answered ${res.status}`);
}

async function readMinimal(i: number): Promise<void> {
  const req = new Request(`http://localhost/items/${ids[i % ITEMS]}`, { headers: auth });
  const bearer = req.headers.get("authorization")!.slice("Bearer ".length);
  const hash = createHash("sha256").update(bearer).digest("hex");
  const [sessions] = await pool.query(
    "SELECT user_id, access_expires_at FROM sessions WHERE access_token_hash = ?",
    [hash],
  );
  if ((sessions as unknown[]).length === 0) throw new Error("session not found");
  const [rows] = await pool.query(
    "SELECT id, user_id, name, description, created_at, updated_at FROM items WHERE id = ?",
    [ids[i % ITEMS]],
  );
  const item =
    (rows as Array<Record<string, unknown> & { created_at: Date; updated_at: Date }>)[0]!;
  const body = JSON.stringify({
    ...item,
    created_at: item.created_at.toISOString(),
    updated_at: item.updated_at.toISOString(),
  });
  await new Response(body, { headers: { "content-type": "application/json" } }).text();
}

/** CPU µs per read for `REQUESTS` reads from `CONCURRENCY` callers. */
async function cpuPerRead(read: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) await read(next++);
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / REQUESTS;
}

try {
  await cpuPerRead(readThroughApp); // warm-up (JIT, pools)
  await cpuPerRead(readThroughAppWithJwt);
  await cpuPerRead(readMinimal);
  for (let round = 1; round <= ROUNDS; round++) {
    const app = await cpuPerRead(readThroughApp);
    const withJwt = await cpuPerRead(readThroughAppWithJwt);
    const minimal = await cpuPerRead(readMinimal);
    console.error(
      `round ${round}: app ${app.toFixed(1)} µs/read, app with a provider JWT ` +
        `${withJwt.toFixed(1)} µs/read, minimal ${minimal.toFixed(1)} µs/read, ` +
        `ratio ${(minimal / app).toFixed(3)}`,
    );
  }
} finally {
  await pool.end();
  await t.close();
  await provider.stop();
}
