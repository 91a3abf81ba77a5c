/**
 * `deno task bench:instructions`: the instructions the service executes per request, counted by
 * Valgrind's callgrind, for machines where `perf` cannot read hardware counters (most VMs).
 * `deno task bench` uses {@link countWithCallgrind} for its "k instr/req" column there.
 *
 * The service (`src/cli.ts serve`, the flags of `deno task start` with V8's hash and random
 * seeds fixed, MySQL) runs under `valgrind --tool=callgrind` with instrumentation off, so
 * start-up and a warm-up of every case run at near-native speed and the JIT reaches its steady
 * state. Then instrumentation goes on and, case by case: 200 more requests, counters zeroed
 * (`callgrind_control -z`), N sequential requests on one keep-alive connection, a dump
 * (`callgrind_control -d`). Callgrind counts the guest's instructions, not its own, so the
 * figures are what the process executes natively.
 *
 * - `kinstr_per_request` is the main thread: Deno's event loop, where a request is handled
 *   (HTTP, middleware, handler, mysql2, access log) and young-generation GC runs. Two runs agree
 *   within about 2 %.
 * - `kinstr_all_threads_per_request` adds every other thread (V8's concurrent marking and
 *   optimizing compiler, Deno's helper threads), as `perf stat -p` would. That work comes in
 *   bursts (a concurrent mark falls in one run and not the next), so it moves by several %.
 * - A request takes about 50 times as long under callgrind, so work driven by wall-clock timers
 *   (the once-a-minute `last_used_at` write of each session, per-second caches) weighs more per
 *   request than natively; the same holds for any two checkouts measured this way.
 *
 * Alone, it measures the checkout at BENCH_SERVICE_ROOT (default: this one) on a fresh MySQL
 * database that checkout's own service migrates, seeded as `deno task bench` seeds it (with this
 * checkout's seeder: the users and items columns have not changed), sessions from its
 * `/auth/token`. The database is dropped at the end.
 *
 * With BENCH_CALLGRIND_KEEP=<dir>, the dumps are kept there with V8's map of its generated code
 * (`--perf-basic-prof`; counting per instruction adds a few %): `deno run -A
 * bench/callgrind-functions.ts <dir>` then names the functions the instructions went to.
 *
 * Settings (environment): BENCH_SERVICE_ROOT, BENCH_CALLGRIND_CASES (a comma list of the case
 * names, e.g. `GET /items/{id}`; default: all), BENCH_MYSQL_URL (mysql://root@127.0.0.1:3306),
 * BENCH_CALLGRIND_REQUESTS (measured requests per case, 1000), BENCH_CALLGRIND_WARMUP
 * (uninstrumented warm-up requests per case, 2000), BENCH_USERS (1000), BENCH_ITEMS_PER_USER
 * (100).
 *
 * @module
 */
import mysql from "mysql2/promise";
import { PasswordHasher } from "@/runtime/passwords.ts";
import { freePort } from "../tests/helpers/process.ts";
import { seedDatabase } from "./seed.ts";
import {
  type Child,
  login,
  mapLimit,
  PASSWORD,
  ROOT,
  SECRET_KEY,
  SERVICE_FLAGS,
  serviceEnv,
  spawn,
  waitForOk,
} from "./service.ts";

/** The requests callgrind measures. */
export type CallgrindCaseName =
  | "GET /livez"
  | "GET /items/{id}"
  | "GET /items/{id} If-None-Match"
  | "POST /items"
  | "POST /items Idempotency-Key";

/** The cases run unless BENCH_CALLGRIND_CASES names others (the older checkouts have these). */
export const DEFAULT_CASES: readonly CallgrindCaseName[] = ["GET /livez", "GET /items/{id}"];

/** What {@link countWithCallgrind} needs: a migrated, seeded database and session tokens. */
export interface CallgrindOptions {
  /** The checkout whose `src/cli.ts serve` runs (as its working directory). */
  serviceRoot: string;
  databaseUrl: string;
  /** Access tokens of seeded users (`POST /auth/token`); up to 10 are used, in turn. */
  tokens: string[];
  /** Seeded item ids: requests read `itemMin..itemMax` in a fixed order. */
  itemMin: number;
  itemMax: number;
  /** Measured requests per case (BENCH_CALLGRIND_REQUESTS, 1000). */
  requests?: number;
  /** Uninstrumented warm-up requests per case (BENCH_CALLGRIND_WARMUP, 2000). */
  warmup?: number;
  cases?: CallgrindCaseName[];
  log?: (message: string) => void;
  /**
   * Keep the dumps (per instruction) and V8's map of its generated code here, for
   * `bench/callgrind-functions.ts` (BENCH_CALLGRIND_KEEP).
   */
  keepDir?: string;
  /** Called with the service process once started (so a caller can kill it on Ctrl-C). */
  onSpawn?: (child: Child) => void;
}

/** Instructions per request of one case, in thousands. */
export interface InstructionCount {
  name: CallgrindCaseName;
  requests: number;
  /** The main thread (the event loop). */
  kinstr_per_request: number;
  /** Every thread of the process. */
  kinstr_all_threads_per_request: number;
}

const SESSIONS = 10;
const INSTRUMENTED_WARMUP = 200;

/** Whether `valgrind` can be run here. */
export async function valgrindAvailable(): Promise<boolean> {
  try {
    const out = await new Deno.Command("valgrind", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

interface Case {
  name: CallgrindCaseName;
  /** Path, headers and (for a POST) body of the `i`th request. */
  request(i: number): { path: string; headers?: Record<string, string>; json?: unknown };
  /** The status every request answers (200 unless said). */
  status?: number;
}

function defineCases(o: CallgrindOptions): Case[] {
  const tokens = o.tokens.slice(0, SESSIONS);
  const span = o.itemMax - o.itemMin + 1;
  const auth = (i: number) => ({ Authorization: `Bearer ${tokens[i % tokens.length]}` });
  // A stride prime to the id range visits every item once before repeating.
  const item = (i: number) => `/items/${o.itemMin + (i * 7919) % span}`;
  const run = crypto.randomUUID().slice(0, 8);
  const all: Case[] = [
    { name: "GET /livez", request: () => ({ path: "/livez" }) },
    { name: "GET /items/{id}", request: (i) => ({ path: item(i), headers: auth(i) }) },
    {
      // A tag that never matches: the check's whole cost, and the full 200 answer.
      name: "GET /items/{id} If-None-Match",
      request: (i) => ({ path: item(i), headers: { ...auth(i), "If-None-Match": '"stale"' } }),
    },
    {
      name: "POST /items",
      status: 201,
      request: (i) => ({ path: "/items", headers: auth(i), json: { name: `bench ${run} ${i}` } }),
    },
    {
      name: "POST /items Idempotency-Key",
      status: 201,
      request: (i) => ({
        path: "/items",
        headers: { ...auth(i), "Idempotency-Key": `bench-${run}-${i}` },
        json: { name: `bench keyed ${run} ${i}` },
      }),
    },
  ];
  const wanted = o.cases ?? DEFAULT_CASES;
  return all.filter((c) => wanted.includes(c.name));
}

/**
 * Start the service of `o.serviceRoot` under callgrind on `o.databaseUrl`, warm it up and count
 * the instructions of `requests` sequential requests per case (see the module documentation).
 */
export async function countWithCallgrind(o: CallgrindOptions): Promise<InstructionCount[]> {
  const requests = o.requests ?? Number(Deno.env.get("BENCH_CALLGRIND_REQUESTS") ?? "1000");
  const warmup = o.warmup ?? Number(Deno.env.get("BENCH_CALLGRIND_WARMUP") ?? "2000");
  const log = o.log ?? console.log;
  const keep = o.keepDir ?? Deno.env.get("BENCH_CALLGRIND_KEEP");
  const cases = defineCases(o);
  const dir = await Deno.makeTempDir({ prefix: "items-api-callgrind-" });
  const port = freePort();
  const env = serviceEnv(o.databaseUrl, port, 0);
  const valgrind = [
    "--tool=callgrind",
    "--instr-atstart=no",
    "--separate-threads=yes",
    // V8 writes and rewrites machine code: translations must follow.
    "--smc-check=all-non-file",
    `--vgdb-prefix=${dir}/vgdb`,
    `--callgrind-out-file=${dir}/cg.%p`,
    ...(keep ? ["--dump-instr=yes"] : []),
  ];
  // V8 picks a random hash seed (hash-table probes) and random seed per process: fixed here, so
  // two runs execute the same code.
  const flags = SERVICE_FLAGS.map((f) =>
    f.startsWith("--v8-flags=")
      ? `${f},--hash-seed=1,--random-seed=1${keep ? ",--perf-basic-prof" : ""}`
      : f
  );
  const child = spawn(
    "service under callgrind",
    [...valgrind, Deno.execPath(), "run", ...flags, "src/cli.ts", "serve"],
    port,
    env,
    { command: "valgrind", cwd: o.serviceRoot },
  );
  o.onSpawn?.(child);
  // vgdb finds the process by files named after HOST and USER: the same as the service's.
  const control = async (...args: string[]) => {
    const out = await new Deno.Command("callgrind_control", {
      args: [`--vgdb-prefix=${dir}/vgdb`, ...args, String(child.pid)],
      env: { HOST: env.HOST },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!/^\s*OK\.?$/m.test(text)) {
      throw new Error(
        `callgrind_control ${args.join(" ")}: ${text}${new TextDecoder().decode(out.stderr)}`,
      );
    }
  };
  const client = Deno.createHttpClient({});
  const send = async (c: Case, from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const { path, headers, json } = c.request(i);
      const res = await fetch(`${child.baseUrl}${path}`, {
        client,
        ...json === undefined ? { headers } : {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/json" },
          body: JSON.stringify(json),
        },
      });
      const body = await res.text();
      if (res.status !== (c.status ?? 200)) {
        throw new Error(`${c.name}: ${path} answered ${res.status} ${body}`);
      }
    }
  };
  try {
    await waitForOk(child, "/readyz", { timeoutMs: 180_000 });
    log(`callgrind: warming up ${cases.map((c) => c.name).join(", ")} (${warmup} requests each)`);
    for (const c of cases) await send(c, 0, warmup);
    await control("--instr=on");
    const counts: InstructionCount[] = [];
    for (const [index, c] of cases.entries()) {
      await send(c, warmup, INSTRUMENTED_WARMUP);
      await control("--zero");
      await send(c, warmup + INSTRUMENTED_WARMUP, requests);
      await control("--dump");
      const threads = await readDump(dir, child.pid, index + 1);
      const all = threads.reduce((sum, n) => sum + n, 0);
      const count: InstructionCount = {
        name: c.name,
        requests,
        kinstr_per_request: round(threads[0]! / requests / 1000),
        kinstr_all_threads_per_request: round(all / requests / 1000),
      };
      counts.push(count);
      log(
        `callgrind ${c.name}: ${count.kinstr_per_request}k instr/req (main thread), ` +
          `${count.kinstr_all_threads_per_request}k (all ${threads.length} threads)`,
      );
    }
    return counts;
  } finally {
    client.close();
    await child.stop();
    if (keep) await keepProfile(dir, child.pid, keep);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Copy the dumps and `/tmp/perf-<pid>.map` (written by V8's `--perf-basic-prof`) to `keep`. */
async function keepProfile(dir: string, pid: number, keep: string): Promise<void> {
  await Deno.mkdir(keep, { recursive: true });
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith("cg.")) {
      await Deno.copyFile(`${dir}/${entry.name}`, `${keep}/${entry.name}`);
    }
  }
  await Deno.copyFile(`/tmp/perf-${pid}.map`, `${keep}/perf-${pid}.map`);
  await Deno.remove(`/tmp/perf-${pid}.map`).catch(() => {});
}

/** Instructions per thread (main thread first) in dump `n`: one `cg.<pid>.<n>-<thread>` each. */
async function readDump(dir: string, pid: number, n: number): Promise<number[]> {
  const threads: Array<[number, number]> = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = new RegExp(`^cg\\.${pid}\\.${n}-(\\d+)$`).exec(entry.name);
    if (!match) continue;
    const text = await Deno.readTextFile(`${dir}/${entry.name}`);
    const summary = /^summary:\s*(\d+)/m.exec(text);
    if (!summary) throw new Error(`No summary line in ${entry.name}`);
    threads.push([Number(match[1]), Number(summary[1])]);
  }
  if (!threads.some(([thread]) => thread === 1)) throw new Error(`No dump ${n} in ${dir}`);
  return threads.sort((a, b) => a[0] - b[0]).map(([, ir]) => ir);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function gitCommit(dir: string): Promise<string | null> {
  const out = await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"], cwd: dir })
    .output().catch(() => null);
  return out?.success ? new TextDecoder().decode(out.stdout).trim() : null;
}

/** BENCH_CALLGRIND_CASES: a comma list of case names (default: {@link DEFAULT_CASES}). */
function casesFromEnv(): CallgrindCaseName[] | undefined {
  const names = Deno.env.get("BENCH_CALLGRIND_CASES");
  if (!names) return undefined;
  return names.split(",").map((name) => name.trim()) as CallgrindCaseName[];
}

async function main(): Promise<void> {
  const serviceRoot = Deno.realPathSync(Deno.env.get("BENCH_SERVICE_ROOT") ?? ROOT);
  const mysqlUrl = Deno.env.get("BENCH_MYSQL_URL") ?? "mysql://root@127.0.0.1:3306";
  const users = Number(Deno.env.get("BENCH_USERS") ?? "1000");
  const itemsPerUser = Number(Deno.env.get("BENCH_ITEMS_PER_USER") ?? "100");
  const commit = await gitCommit(serviceRoot);
  const dbName = `items_kinstr_${crypto.randomUUID().slice(0, 8)}`;
  const admin = await mysql.createConnection({ uri: mysqlUrl });
  await admin.query(
    `CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
  );
  const url = new URL(mysqlUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();
  try {
    // The checkout's own service migrates the database and logs the readers in, natively.
    const port = freePort();
    const setup = spawn(
      "service",
      ["run", ...SERVICE_FLAGS, "src/cli.ts", "serve"],
      port,
      serviceEnv(databaseUrl, port, 0),
      { cwd: serviceRoot },
    );
    let tokens: string[];
    let itemMin: number, itemMax: number;
    try {
      await waitForOk(setup, "/readyz");
      log(`${serviceRoot} (${commit ?? "?"}): seeding ${users} users, ${itemsPerUser} items each`);
      const conn = await mysql.createConnection({ uri: databaseUrl, timezone: "Z" });
      try {
        const passwordHash = await new PasswordHasher(SECRET_KEY).hash(PASSWORD);
        const seeded = await seedDatabase(conn, { users, itemsPerUser, passwordHash });
        ({ itemMin, itemMax } = seeded);
        const pairs = await mapLimit(
          seeded.users.slice(0, SESSIONS),
          4,
          (u) => login(setup.baseUrl, u.username, PASSWORD),
        );
        tokens = pairs.map((p) => p.access_token);
      } finally {
        await conn.end();
      }
    } finally {
      await setup.stop();
    }
    const counts = await countWithCallgrind({
      serviceRoot,
      databaseUrl,
      tokens,
      itemMin,
      itemMax,
      log,
      cases: casesFromEnv(),
    });
    console.log(JSON.stringify({ service_root: serviceRoot, commit, cases: counts }, null, 2));
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.end();
  }
}

if (import.meta.main) {
  await main();
}
