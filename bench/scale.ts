/**
 * `deno task bench:scale`: lists at millions of rows. Seeds BENCH_SCALE_ITEMS items (default
 * 1 000 000) over BENCH_SCALE_USERS users (10 000) with bulk INSERT … SELECT, starts the
 * service on it, and measures every list shape at 1 and 8 clients (p50, p99, requests/s), on
 * MariaDB/MySQL (BENCH_MYSQL_URL, default mysql://root@127.0.0.1:3306; a database of its own,
 * dropped afterwards) and on SQLite (a temporary file), plus `GET /livez` while 8 clients list
 * on SQLite (one event loop serves both).
 *
 * Writes `bench/results/scale.json` and `bench/results/scale.md` (BENCH_OUT to change the
 * folder), keeping the results of other sizes and dialects from earlier runs. BENCH_SCALE_SECONDS
 * (2) sets the time per shape and client count; BENCH_SCALE_DIALECTS (`mysql,sqlite`) which
 * databases to run. BENCH_SCALE_KEEP=1 keeps the seeded databases (MySQL
 * `items_bench_scale_keep_<items>`, SQLite `$TMPDIR/items-api-scale-<items>.db`) and reuses them
 * on the next run of the same size instead of seeding again. BENCH_SCALE_SHAPES=q,users runs
 * only the shapes whose names contain one of those (a partial run, for trying a change).
 *
 * At millions of rows the MySQL numbers depend on whether the working set fits InnoDB's buffer
 * pool (128 MiB by default, far below a production setting): the results record its size.
 *
 * @module
 */
import mysql from "mysql2/promise";
import { openDatabase } from "@/db/open.ts";
import { migrate } from "@/db/migrate.ts";
import { cursorCodec, type CursorPosition } from "@/http/cursor.ts";
import { listScope, sortSpec } from "@/http/pagination.ts";
import { ITEM_SORTS, type ItemSortKey } from "@/modules/items/items.sorts.ts";
import type { Database } from "@/db/database.ts";
import { type ScaleSeed, seedScale } from "./scale-seed.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SECRET_KEY = "bench-scale-secret-key-at-least-32-characters";
const ADMIN = { username: "admin", password: "bench-scale-admin-password" };
const ITEMS = Number(Deno.env.get("BENCH_SCALE_ITEMS") ?? 1_000_000);
const USERS = Number(Deno.env.get("BENCH_SCALE_USERS") ?? 10_000);
const SECONDS = Number(Deno.env.get("BENCH_SCALE_SECONDS") ?? 2);
const MYSQL_URL = Deno.env.get("BENCH_MYSQL_URL") ?? "mysql://root@127.0.0.1:3306";
const DIALECTS = (Deno.env.get("BENCH_SCALE_DIALECTS") ?? "mysql,sqlite").split(",");
const OUT = Deno.env.get("BENCH_OUT") ?? `${ROOT}bench/results`;
const LIST_QUERY_TIMEOUT = "2s";
const KEEP = Deno.env.get("BENCH_SCALE_KEEP") === "1";

function log(message: string) {
  console.error(`[bench:scale ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface Stats {
  requests: number;
  p50_ms: number;
  p99_ms: number;
  rps: number;
  statuses: Record<string, number>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** `clients` loops requesting `path` for `seconds` (at least 3 requests each). */
async function measure(
  base: string,
  path: string,
  token: string,
  clients: number,
  seconds = SECONDS,
): Promise<Stats> {
  const times: number[] = [];
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let n = 0; n < 3 || performance.now() < until; n++) {
      const t0 = performance.now();
      const res = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      times.push(performance.now() - t0);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (performance.now() > until + 30_000) break;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return {
    requests: times.length,
    p50_ms: round(percentile(times, 0.5)),
    p99_ms: round(percentile(times, 0.99)),
    rps: round(times.length / elapsed, 1),
    statuses,
  };
}

async function waitFor(url: string, child: Deno.ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`${url} did not answer`);
}

/** Mint a cursor the service accepts (the bench knows the service's SECRET_KEY). */
function mint(
  sort: string,
  position: CursorPosition,
  filters: Record<string, string | number> = {},
) {
  const spec = sortSpec(sort === "id" ? undefined : sort as ItemSortKey, ITEM_SORTS);
  return cursorCodec(SECRET_KEY).encode(listScope("items", spec, filters), position);
}

interface Shape {
  name: string;
  path: string;
  /** Shapes of the issue's table, re-measured. */
  issue?: string;
}

async function shapes(userId: number, itemId: number): Promise<Shape[]> {
  const mid = Math.floor(ITEMS / 2);
  const midTime = new Date(Date.parse("2026-01-01T00:00:00.000Z") + mid * 1000).toISOString();
  const list: Shape[] = [
    { name: "item by id", path: `/items/${itemId}`, issue: "`GET /items/{id}`" },
    { name: "first page", path: "/items?limit=20", issue: "`GET /items?limit=20`" },
    { name: "page 500 (deepest offset page)", path: "/items?limit=20&page=500" },
    {
      name: "page 2500 (now 422: use cursor)",
      path: "/items?limit=20&page=2500",
      issue: "`GET /items?limit=20&page=2500`",
    },
    {
      name: "page 200000 (now 422: use cursor)",
      path: "/items?limit=20&page=200000",
      issue: "`GET /items?limit=20&page=200000`",
    },
    {
      name: "cursor page at half depth",
      path: `/items?limit=20&cursor=${encodeURIComponent(await mint("id", [mid]))}`,
    },
    {
      name: "cursor page at half depth, sort=name",
      path: `/items?limit=20&sort=name&cursor=${
        encodeURIComponent(await mint("name", [`Item ${mid}`, mid]))
      }`,
    },
    {
      name: "cursor page at half depth, sort=-updated_at",
      path: `/items?limit=20&sort=-updated_at&cursor=${
        encodeURIComponent(await mint("-updated_at", [midTime, mid]))
      }`,
    },
  ];
  for (
    const sort of ["-id", "name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]
  ) {
    list.push({
      name: `sort=${sort}`,
      path: `/items?limit=20&sort=${sort}`,
      ...(sort === "-created_at" || sort === "name"
        ? { issue: `\`GET /items?limit=20&sort=${sort}\`` }
        : {}),
    });
  }
  for (
    const sort of [
      "id",
      "-id",
      "name",
      "-name",
      "created_at",
      "-created_at",
      "updated_at",
      "-updated_at",
    ]
  ) {
    list.push({
      name: `user_id, sort=${sort}`,
      path: `/items?limit=20&user_id=${userId}&sort=${sort}`,
    });
  }
  list.push(
    { name: "q (rare word: one item)", path: `/items?limit=20&q=${mid + 1}` },
    { name: "q (selective word: items/997)", path: "/items?limit=20&q=k042" },
    { name: "q, sort=name", path: "/items?limit=20&q=k042&sort=name" },
    { name: "q two words, user_id", path: `/items?limit=20&q=k042%20red&user_id=${userId}` },
    { name: "common substring name=item 12", path: "/items?limit=20&name=item%2012" },
    {
      name: "common substring, sort=-created_at",
      path: "/items?limit=20&description=notebook&sort=-created_at",
    },
    { name: "rare substring name=zzqq", path: "/items?limit=20&name=zzqq" },
    { name: "users first page", path: "/users?limit=20" },
    { name: "users sort=username", path: "/users?limit=20&sort=username" },
    { name: "users role_id, sort=-created_at", path: "/users?limit=20&role_id=2&sort=-created_at" },
    { name: "users username substring", path: "/users?limit=20&username=scale0001" },
  );
  return list;
}

interface DialectResult {
  dialect: string;
  items: number;
  users: number;
  /** Undefined when an earlier run's kept database was reused. */
  seed_seconds?: number | undefined;
  /** InnoDB's buffer pool (MySQL). */
  buffer_pool_mib?: number | undefined;
  /** When this dialect and size ran. */
  at: string;
  shapes: Array<Shape & { one: Stats; eight: Stats }>;
  livez?: { idle: Stats; during_lists: Stats; list_mix: Stats };
}

/** Where a dialect's data lives, whether it is seeded already, and how to clean up. */
async function prepareDatabase(
  dialect: "mysql" | "sqlite",
): Promise<{ url: string; cleanup: () => Promise<void> }> {
  const random = Array.from(
    crypto.getRandomValues(new Uint8Array(4)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  if (dialect === "sqlite") {
    if (KEEP) {
      const dir = Deno.env.get("TMPDIR") ?? "/tmp";
      return { url: `sqlite:${dir}/items-api-scale-${ITEMS}.db`, cleanup: async () => {} };
    }
    const dir = await Deno.makeTempDir({ prefix: "items-api-scale-" });
    return { url: `sqlite:${dir}/scale.db`, cleanup: () => Deno.remove(dir, { recursive: true }) };
  }
  const name = KEEP ? `items_bench_scale_keep_${ITEMS}` : `items_bench_scale_${random}`;
  const admin = await mysql.createConnection({ uri: MYSQL_URL });
  await admin.query(
    `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
  );
  await admin.end();
  const server = new URL(MYSQL_URL);
  server.pathname = `/${name}`;
  return {
    url: server.toString(),
    cleanup: KEEP ? async () => {} : async () => {
      const conn = await mysql.createConnection({ uri: MYSQL_URL });
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}

/** A kept database seeded by an earlier run of this size, or undefined. */
async function earlierSeed(db: Database): Promise<ScaleSeed | undefined> {
  const [items] = await db.query<{ n: number }>("SELECT COUNT(*) AS n FROM items");
  if (Number(items?.n) !== ITEMS) return undefined;
  const [users] = await db.query<{ first: number; n: number }>(
    "SELECT MIN(id) AS first, COUNT(*) AS n FROM users WHERE username LIKE 'scale%'",
  );
  return { firstUserId: Number(users?.first), users: Number(users?.n), items: ITEMS };
}

/** InnoDB's buffer pool size in MiB (what decides whether a list reads from memory). */
async function bufferPoolMib(db: Database): Promise<number> {
  const [row] = await db.query<{ size: number }>("SELECT @@innodb_buffer_pool_size AS size");
  return Math.round(Number(row?.size) / 2 ** 20);
}

async function runDialect(dialect: "mysql" | "sqlite"): Promise<DialectResult> {
  const { url, cleanup } = await prepareDatabase(dialect);
  const children: Deno.ChildProcess[] = [];
  try {
    const db = await openDatabase({
      url,
      poolSize: 2,
      queueLimit: 10,
      queryTimeoutMs: 600_000,
      listQueryTimeoutMs: 600_000,
    });
    await migrate(db);
    const kept = KEEP ? await earlierSeed(db) : undefined;
    let seeded: ScaleSeed;
    let seedSeconds: number | undefined;
    if (kept) {
      log(`${dialect}: reusing the ${ITEMS} items seeded by an earlier run`);
      seeded = kept;
    } else {
      log(`${dialect}: seeding ${ITEMS} items over ${USERS} users`);
      const t0 = performance.now();
      seeded = await seedScale(db, {
        users: USERS,
        items: ITEMS,
        progress: (n) => n % 500_000 === 0 && log(`${dialect}: ${n} items`),
      });
      seedSeconds = round((performance.now() - t0) / 1000, 1);
      log(`${dialect}: seeded in ${seedSeconds} s`);
    }
    const bufferPool = dialect === "mysql" ? await bufferPoolMib(db) : undefined;
    await db.close();

    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "src/cli.ts", "serve"],
      cwd: ROOT,
      env: {
        APP_ENV: "test",
        DATABASE_URL: url,
        PORT: String(port),
        HOST: "127.0.0.1",
        METRICS_PORT: "0",
        SECRET_KEY,
        ADMIN_USERNAME: ADMIN.username,
        ADMIN_PASSWORD: ADMIN.password,
        LOG_LEVEL: "error",
        LOG_FORMAT: "json",
        RATE_LIMIT_API_MAX: "100000000",
        RATE_LIMIT_LOGIN_MAX: "1000000",
        LIST_QUERY_TIMEOUT,
      },
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/readyz`, child);
    const login = await fetch(`${base}/auth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(ADMIN),
    });
    const token = (await login.json() as { access_token: string }).access_token;

    const result: DialectResult = {
      dialect,
      items: ITEMS,
      users: seeded.users,
      seed_seconds: seedSeconds,
      buffer_pool_mib: bufferPool,
      at: new Date().toISOString(),
      shapes: [],
    };
    // Bulk inserts leave gaps in AUTO_INCREMENT ids: take a real one from the middle.
    const middle = await fetch(
      `${base}/items?limit=1&cursor=${
        encodeURIComponent(await mint("id", [Math.floor(ITEMS / 2)]))
      }`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    const itemId = (await middle.json() as { items: Array<{ id: number }> }).items[0]!.id;
    const only = Deno.env.get("BENCH_SCALE_SHAPES")?.split(",");
    const selected = (await shapes(seeded.firstUserId + 7, itemId))
      .filter((shape) => !only || only.some((part) => shape.name.includes(part)));
    for (const shape of selected) {
      await measure(base, shape.path, token, 1, 0.2); // warm-up
      const one = await measure(base, shape.path, token, 1);
      const eight = await measure(base, shape.path, token, 8);
      log(
        `${dialect} ${shape.name}: p50 ${one.p50_ms} ms, 8 clients ${eight.rps} rps ${
          JSON.stringify(one.statuses)
        }`,
      );
      result.shapes.push({ ...shape, one, eight });
    }
    if (dialect === "sqlite") {
      const idle = await measure(base, "/livez", token, 1, SECONDS);
      const mix = [
        "/items?limit=20&sort=name",
        "/items?limit=20&name=item%2012",
        "/items?limit=20&q=k042",
        "/items?limit=20&name=zzqq",
      ];
      let listing = true;
      const listMix = (async () => {
        const stats: Stats[] = [];
        while (listing) {
          for (const path of mix) stats.push(await measure(base, path, token, 2, 0.5));
        }
        return stats;
      })();
      const during = await measure(base, "/livez", token, 1, SECONDS * 2);
      listing = false;
      const mixStats = await listMix;
      result.livez = {
        idle,
        during_lists: during,
        list_mix: {
          requests: mixStats.reduce((n, s) => n + s.requests, 0),
          p50_ms: round(Math.max(...mixStats.map((s) => s.p50_ms))),
          p99_ms: round(Math.max(...mixStats.map((s) => s.p99_ms))),
          rps: round(
            mixStats.reduce((n, s) => n + s.rps, 0) / Math.max(1, mixStats.length / mix.length),
          ),
          statuses: {},
        },
      };
      log(`sqlite /livez p99 idle ${idle.p99_ms} ms, during lists ${during.p99_ms} ms`);
    }
    return result;
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
        await child.status;
      } catch {
        // already gone
      }
    }
    await cleanup();
  }
}

function table(results: DialectResult[]): string {
  const lines = [
    "# Lists at scale",
    "",
    `Written by \`deno task bench:scale\`; ${SECONDS} s per shape and client count; ` +
    `LIST_QUERY_TIMEOUT=${LIST_QUERY_TIMEOUT}. The machine is shared: read the shape of the ` +
    "numbers, not their last digit.",
    "",
  ];
  for (const r of results) {
    const seeded = r.seed_seconds === undefined
      ? "seeded by an earlier run"
      : `seeded in ${r.seed_seconds} s`;
    const pool = r.buffer_pool_mib === undefined
      ? ""
      : `, InnoDB buffer pool ${r.buffer_pool_mib.toLocaleString("en")} MiB`;
    lines.push(
      `## ${r.dialect === "mysql" ? "MariaDB" : "SQLite"}: ${
        r.items.toLocaleString("en")
      } items over ${r.users.toLocaleString("en")} users (${seeded}${pool}; run ${r.at})`,
      "",
      "| shape | status | 1 client p50 | p99 | rps | 8 clients p50 | p99 | rps |",
      "|---|---|---|---|---|---|---|---|",
    );
    for (const s of r.shapes) {
      lines.push(
        `| ${s.name} | ${
          Object.keys(s.one.statuses).join("/")
        } | ${s.one.p50_ms} ms | ${s.one.p99_ms} ms | ${s.one.rps} | ${s.eight.p50_ms} ms | ${s.eight.p99_ms} ms | ${s.eight.rps} |`,
      );
    }
    if (r.livez) {
      lines.push(
        "",
        `\`GET /livez\` alone: p99 ${r.livez.idle.p99_ms} ms, ${r.livez.idle.rps} rps (one client). ` +
          `While 2 clients list (sort=name, a common and a rare substring, q): p99 ` +
          `${r.livez.during_lists.p99_ms} ms, ${r.livez.during_lists.rps} rps.`,
      );
    }
    lines.push("");
  }
  return lines.join("\n");
}

// A run keeps the results of the other dialects and sizes from earlier runs.
let results: DialectResult[] = [];
try {
  const previous = JSON.parse(await Deno.readTextFile(`${OUT}/scale.json`)) as {
    items?: number;
    users?: number;
    at?: string;
    results: DialectResult[];
  };
  results = previous.results
    .map((r) => ({
      ...r,
      items: r.items ?? previous.items,
      users: r.users ?? previous.users,
      at: r.at ?? previous.at,
    }))
    .filter((r) => r.items !== ITEMS || !DIALECTS.includes(r.dialect));
} catch {
  // no previous results
}
for (const dialect of DIALECTS) results.push(await runDialect(dialect as "mysql" | "sqlite"));
results.sort((a, b) => a.items - b.items || a.dialect.localeCompare(b.dialect));
await Deno.mkdir(OUT, { recursive: true });
await Deno.writeTextFile(
  `${OUT}/scale.json`,
  JSON.stringify({ seconds: SECONDS, results }, null, 2) + "\n",
);
await Deno.writeTextFile(`${OUT}/scale.md`, table(results));
// Committed beside the code: in the repository's format, so `deno fmt --check` stays clean.
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", `${OUT}/scale.md`, `${OUT}/scale.json`],
})
  .output();
log(`wrote ${OUT}/scale.json and ${OUT}/scale.md`);
