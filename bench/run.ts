/**
 * `deno task bench`: a side-by-side benchmark of items-api against two bare baselines.
 *
 * 1. Cold start on SQLite: process start to the first 200 from `/livez`, median of 5 (fresh
 *    database, then an existing one).
 * 2. A fresh, uniquely named MySQL database (created here, dropped at the end), the service as a
 *    child process on it with its access log on (info, JSON, written to stdout = /dev/null),
 *    a seeded data set (1 000 users, 100 000 items) and sessions from the real `/auth/token`.
 * 3. wrk at a fixed concurrency against every case, in rounds that alternate the service and
 *    its baseline (A/B, then B/A, ...) so machine drift cancels; medians are reported. Each
 *    run also records the server's CPU time and, where `perf` can read hardware counters, the
 *    instructions it retired per request: those barely move with other load on the machine.
 *    Without counters but with Valgrind, a callgrind phase after the runs counts them for
 *    GET /livez and GET /items/{id} instead (bench/instructions.ts).
 * 4. Overload: GET /items/{id} at 1, 8, 64 and 256 connections, one run each; successful and
 *    refused (503) answers per second, and whether 256 keeps >= 80 % of the peak success rate.
 * 5. `/livez` latency while a second wrk floods `/auth/token` (Argon2id must stay off the
 *    event loop), RSS of the service under load.
 *
 * Writes `bench/results/latest.json` and `bench/results/latest.md`.
 *
 * Settings (environment): BENCH_MYSQL_URL (mysql://root@127.0.0.1:3306), BENCH_DURATION
 * (seconds per wrk run, 6), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32), BENCH_THREADS (1),
 * BENCH_USERS (1000), BENCH_ITEMS_PER_USER (100), BENCH_OUT (bench/results), BENCH_INSTRUCTIONS
 * (perf, callgrind or off; default: perf where it counts, else callgrind where installed),
 * BENCH_WORKERS (2: the WORKERS rows compare WORKERS=1 and this many; 1 skips them),
 * BENCH_REDIS_URL (redis://127.0.0.1:6379, which those rows need) and those of
 * bench/instructions.ts.
 *
 * @module
 */
import mysql from "mysql2/promise";
import { PasswordHasher } from "@/runtime/passwords.ts";
import { freePort } from "../tests/helpers/process.ts";
import { BENCH_AUDIENCE, startBenchIssuer } from "./oidc-issuer.ts";
import { seedDatabase, type SeededData } from "./seed.ts";
import {
  type CallgrindCaseName,
  countWithCallgrind,
  type InstructionCount,
  valgrindAvailable,
} from "./instructions.ts";
import {
  type Child,
  DB_POOL_SIZE,
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

const LUA_DIR = new URL("./wrk/", import.meta.url).pathname.replace(/\/$/, "");

const settings = {
  mysqlUrl: Deno.env.get("BENCH_MYSQL_URL") ?? "mysql://root@127.0.0.1:3306",
  durationS: Number(Deno.env.get("BENCH_DURATION") ?? "6"),
  rounds: Number(Deno.env.get("BENCH_ROUNDS") ?? "3"),
  connections: Number(Deno.env.get("BENCH_CONNECTIONS") ?? "32"),
  threads: Number(Deno.env.get("BENCH_THREADS") ?? "1"),
  users: Number(Deno.env.get("BENCH_USERS") ?? "1000"),
  itemsPerUser: Number(Deno.env.get("BENCH_ITEMS_PER_USER") ?? "100"),
  outDir: Deno.env.get("BENCH_OUT") ?? `${ROOT}bench/results`,
  poolSize: DB_POOL_SIZE,
  readers: 100,
  refreshTokens: 64,
  loginUsers: 100,
  coldStarts: 5,
  /** BENCH_WORKERS (2): the WORKERS rows compare 1 and this many workers; 1 skips them. */
  workers: Number(Deno.env.get("BENCH_WORKERS") ?? "2"),
  redisUrl: Deno.env.get("BENCH_REDIS_URL") ?? "redis://127.0.0.1:6379",
};

/** The cases measured again with WORKERS=1 and WORKERS=BENCH_WORKERS. */
const WORKER_CASE_NAMES = ["GET /livez", "GET /roles", "GET /items/{id}"];

// ---------------------------------------------------------------------------------------------
// wrk

interface WrkResult {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency_us: { min: number; mean: number; p50: number; p90: number; p99: number; max: number };
}

interface Measurement {
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors and timeouts. */
  errors: number;
  /** Peak VmRSS of the service during the run (service runs only). */
  rss_mb?: number;
  /** CPU time of the server process per answered request (10 ms clock ticks / requests). */
  cpu_us_per_request?: number;
  /** Instructions the server process retired per answered request, in thousands (`perf`). */
  kinstr_per_request?: number;
}

/** CPU time (user + system) a process has used so far, in ms. */
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (which may contain spaces); utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Whether `perf stat` can count instructions here (checked once, on this process). */
const perfWorks = await (async () => {
  try {
    const out = await new Deno.Command("perf", {
      args: ["stat", "-x", ",", "-e", "instructions", "true"],
      stdout: "null",
      stderr: "piped",
    }).output();
    return out.success && /^\d+,/m.test(new TextDecoder().decode(out.stderr));
  } catch {
    return false;
  }
})();

/**
 * How instructions per request are counted (BENCH_INSTRUCTIONS=perf, callgrind or off forces
 * it): `perf stat` on every wrk run where it can read hardware counters, else, with Valgrind
 * installed, a callgrind phase after the wrk runs (bench/instructions.ts).
 */
const instructionsMethod: "perf" | "callgrind" | null = await (async () => {
  const wanted = Deno.env.get("BENCH_INSTRUCTIONS");
  if (wanted === "off") return null;
  if (perfWorks && wanted !== "callgrind") return "perf";
  return wanted !== "perf" && await valgrindAvailable() ? "callgrind" : null;
})();

/**
 * Counts the instructions a process retires until `stop()` (Linux `perf stat`, all of its
 * threads). Instruction counts barely move with other load on a shared machine, unlike time, so
 * they show what a change costs per request. `null` unless instructions are counted with `perf`.
 */
function countInstructions(pid: number): { stop(): Promise<number | undefined> } | null {
  if (instructionsMethod !== "perf") return null;
  const perf = new Deno.Command("perf", {
    args: ["stat", "-x", ",", "-e", "instructions", "-p", String(pid)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  return {
    async stop() {
      perf.kill("SIGINT");
      const { stderr } = await perf.output();
      const line = new TextDecoder().decode(stderr).split("\n").find((l) =>
        l.includes(",instructions")
      );
      const count = Number(line?.split(",")[0]);
      return Number.isFinite(count) && count > 0 ? count : undefined;
    },
  };
}

async function wrk(
  url: string,
  script: string,
  options: {
    connections?: number;
    durationS?: number;
    env?: Record<string, string>;
    /** The server process: its CPU time per request is recorded (robust to other load). */
    pid?: number;
  } = {},
): Promise<Measurement> {
  const connections = options.connections ?? settings.connections;
  const cpuBefore = options.pid ? cpuMs(options.pid) : 0;
  const instructions = options.pid ? countInstructions(options.pid) : null;
  const output = await new Deno.Command("wrk", {
    args: [
      "-t",
      String(Math.min(settings.threads, connections)),
      "-c",
      String(connections),
      "-d",
      `${options.durationS ?? settings.durationS}s`,
      "--timeout",
      "10s",
      "-s",
      `${LUA_DIR}/${script}`,
      url,
    ],
    env: {
      BENCH_LUA_DIR: LUA_DIR,
      BENCH_THREADS: String(Math.min(settings.threads, connections)),
      ...options.env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const instructionCount = await instructions?.stop();
  const text = new TextDecoder().decode(output.stdout);
  const line = text.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (!output.success || !line) {
    throw new Error(
      `wrk failed on ${url} (${script}):\n${text}\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
  const r = JSON.parse(line.slice("BENCH_RESULT ".length)) as WrkResult;
  const e = r.errors;
  const cpu = options.pid ? cpuMs(options.pid) - cpuBefore : undefined;
  return {
    ...(cpu !== undefined ? { cpu_us_per_request: round(cpu * 1000 / r.requests, 1) } : {}),
    ...(instructionCount !== undefined
      ? { kinstr_per_request: round(instructionCount / r.requests / 1000, 1) }
      : {}),
    rps: round(r.requests / (r.duration_us / 1e6), 1),
    p50_ms: round(r.latency_us.p50 / 1000, 2),
    p90_ms: round(r.latency_us.p90 / 1000, 2),
    p99_ms: round(r.latency_us.p99 / 1000, 2),
    max_ms: round(r.latency_us.max / 1000, 2),
    requests: r.requests,
    errors: e.status + e.connect + e.read + e.write + e.timeout,
  };
}

/** One wrk run in a progress line. */
function describeRun(m: Measurement): string {
  return `${m.rps} rps, p99 ${m.p99_ms} ms, ${m.cpu_us_per_request ?? "?"} CPU µs/req, ` +
    `${m.kinstr_per_request ?? "?"}k instr/req` + (m.errors ? `, ${m.errors} errors` : "");
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarize(runs: Measurement[]) {
  const rss = runs.map((r) => r.rss_mb).filter((v) => v !== undefined);
  const cpu = runs.map((r) => r.cpu_us_per_request).filter((v) => v !== undefined);
  const kinstr = runs.map((r) => r.kinstr_per_request).filter((v) => v !== undefined);
  return {
    ...(cpu.length ? { cpu_us_per_request: round(median(cpu), 1) } : {}),
    ...(kinstr.length ? { kinstr_per_request: round(median(kinstr), 1) } : {}),
    rps: round(median(runs.map((r) => r.rps)), 1),
    p50_ms: round(median(runs.map((r) => r.p50_ms)), 2),
    p99_ms: round(median(runs.map((r) => r.p99_ms)), 2),
    ...(rss.length ? { max_rss_mb: Math.max(...rss) } : {}),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    requests: runs.reduce((n, r) => n + r.requests, 0),
  };
}

// ---------------------------------------------------------------------------------------------
// Memory

/** Samples VmRSS of a process while load runs; VmHWM is the kernel's peak. */
class RssSampler {
  #timer: ReturnType<typeof setInterval> | undefined;
  maxRssKb = 0;
  #runMaxKb = 0;
  constructor(readonly pid: number) {}

  read(): { rssKb: number; hwmKb: number } {
    const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]);
    return { rssKb: field("VmRSS"), hwmKb: field("VmHWM") };
  }

  start(): void {
    this.#runMaxKb = 0;
    this.#timer ??= setInterval(() => {
      try {
        const { rssKb } = this.read();
        this.maxRssKb = Math.max(this.maxRssKb, rssKb);
        this.#runMaxKb = Math.max(this.#runMaxKb, rssKb);
      } catch {
        // process gone
      }
    }, 200);
  }

  /** Stop sampling; returns the peak RSS (KiB) seen since `start`. */
  stop(): number {
    clearInterval(this.#timer);
    this.#timer = undefined;
    return this.#runMaxKb;
  }
}

// ---------------------------------------------------------------------------------------------
// Cold start

async function coldStart(): Promise<{ fresh_ms: number[]; existing_ms: number[] }> {
  const dir = await Deno.makeTempDir({ prefix: "items-api-bench-cold-" });
  const fresh: number[] = [];
  const existing: number[] = [];
  try {
    for (const [list, file] of [[fresh, "fresh"], [existing, "existing"]] as const) {
      for (let i = 0; i < settings.coldStarts; i++) {
        const port = freePort();
        const db = file === "fresh" ? `${dir}/fresh-${i}.db` : `${dir}/fresh-0.db`;
        const started = performance.now();
        const child = spawn(
          "cold-start",
          ["run", ...SERVICE_FLAGS, "src/cli.ts", "serve"],
          port,
          serviceEnv(`sqlite:${db}`, port, 0),
        );
        try {
          await waitForOk(child, "/livez");
          list.push(round(performance.now() - started, 1));
        } finally {
          await child.stop();
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return { fresh_ms: fresh, existing_ms: existing };
}

// ---------------------------------------------------------------------------------------------
// The run

interface CaseDefinition {
  name: string;
  path: string;
  script: string;
  /** The baseline this case is compared with, if any. */
  baseline?: "bare" | "bareHeaders" | "mysql";
  target?: number;
  /** Refresh tokens are single-use: fresh sessions before every run. */
  freshRefreshTokens?: boolean;
  /** Extra environment of the wrk script (such as another token file). */
  env?: Record<string, string>;
  /** The callgrind case (bench/instructions.ts) sending the service the same requests. */
  callgrind?: CallgrindCaseName;
}

const CASES: CaseDefinition[] = [
  {
    name: "GET /livez",
    path: "/livez",
    script: "get.lua",
    baseline: "bare",
    target: 0.6,
    callgrind: "GET /livez",
  },
  // No target: shows how much of the gap above is the response headers alone.
  {
    name: "GET /livez (same headers)",
    path: "/livez",
    script: "get.lua",
    baseline: "bareHeaders",
    callgrind: "GET /livez",
  },
  {
    name: "GET /items/{id}",
    path: "/items/1",
    script: "items-get.lua",
    baseline: "mysql",
    target: 0.7,
    callgrind: "GET /items/{id}",
  },
  // The same reads with an identity provider's access token (RS256 JWT, `scope: items:read`)
  // instead of a session token: the verified-token cache and the identity lookup.
  {
    name: "GET /items/{id} with a provider JWT",
    path: "/items/1",
    script: "items-get.lua",
    env: { BENCH_TOKENS: "jwt-tokens.txt" },
  },
  // The same reads as the readers' own API keys (one per reader, all scopes of a user).
  {
    name: "GET /items/{id} with an API key",
    path: "/items/1",
    script: "items-get.lua",
    env: { BENCH_TOKENS: "api-keys.txt" },
  },
  { name: "GET /roles", path: "/roles", script: "get.lua" },
  { name: "GET /items?limit=20 (filtered)", path: "/items", script: "items-list.lua" },
  { name: "POST /items", path: "/items", script: "items-post.lua" },
  { name: "PATCH /items/{id}", path: "/items/1", script: "items-patch.lua" },
  { name: "POST /auth/token", path: "/auth/token", script: "auth-token.lua" },
  {
    name: "POST /auth/refresh",
    path: "/auth/refresh",
    script: "auth-refresh.lua",
    freshRefreshTokens: true,
  },
];

/** `BENCH_CASES=livez,items/{id}`: only the cases whose names contain one of these. */
const SELECTED_CASES = (() => {
  const filter = (Deno.env.get("BENCH_CASES") ?? "").split(",").map((s) => s.trim()).filter(
    Boolean,
  );
  return filter.length ? CASES.filter((c) => filter.some((f) => c.name.includes(f))) : CASES;
})();

/** Concurrencies of the overload table (GET /items/{id}): below, at and far above the pool. */
const OVERLOAD_CONNECTIONS = [1, 8, 64, 256];

const BASELINE_NAMES = {
  bare: "bare Deno.serve (JSON)",
  bareHeaders: "bare Deno.serve (JSON) + the service's response headers",
  mysql: "Deno.serve + mysql2 (SHA-256, session lookup, item by id)",
} as const;

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"], cwd: ROOT })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

function machine() {
  const cpu = /model name\s*:\s*(.+)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "?";
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    load_average_at_start: Deno.loadavg(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
  };
}

async function main(): Promise<void> {
  const wall = performance.now();
  const nonce = crypto.randomUUID().slice(0, 8);
  const results: Record<string, unknown> = {
    generated_at: new Date().toISOString(),
    git_commit: await gitCommit(),
    machine: machine(),
    settings: {
      duration_s: settings.durationS,
      rounds: settings.rounds,
      connections: settings.connections,
      threads: settings.threads,
      users: settings.users,
      items: settings.users * settings.itemsPerUser,
      db_pool_size: settings.poolSize,
      access_log: "on: LOG_LEVEL=info, LOG_FORMAT=json, stdout to /dev/null",
      service_flags: SERVICE_FLAGS.join(" "),
      service_env:
        "APP_ENV=production MALLOC_MMAP_THRESHOLD_=131072, rate limits far above the load",
      database: "MariaDB on 127.0.0.1 (same machine)",
    },
  };

  log("cold start on SQLite");
  const cold = await coldStart();
  results.cold_start = {
    fresh_database_ms: cold.fresh_ms,
    existing_database_ms: cold.existing_ms,
    median_fresh_ms: median(cold.fresh_ms),
    median_existing_ms: median(cold.existing_ms),
  };
  log(`cold start: fresh ${median(cold.fresh_ms)} ms, existing ${median(cold.existing_ms)} ms`);

  const dbName = `items_bench_${nonce}`;
  const server = new URL(settings.mysqlUrl);
  const admin = await mysql.createConnection({ uri: settings.mysqlUrl });
  await admin.query(
    `CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
  );
  server.pathname = `/${dbName}`;
  const databaseUrl = server.toString();
  const dataDir = await Deno.makeTempDir({ prefix: "items-api-bench-" });
  const children: Child[] = [];
  const stoppers: Array<() => Promise<void>> = [];
  const onSignal = () => {
    for (const child of children) {
      try {
        child.process.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  Deno.addSignalListener("SIGINT", onSignal);

  try {
    const servicePort = freePort();
    const metricsPort = freePort();
    // Provider JWTs: a static issuer on loopback, up before the service fetches its keys.
    const oidcIssuer = await startBenchIssuer(freePort());
    stoppers.push(() => oidcIssuer.stop());
    log(`starting the service on MySQL database ${dbName}`);
    // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the service there (on exit).
    const profileDir = Deno.env.get("BENCH_CPU_PROF");
    const profile = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
    const service = spawn(
      "service",
      ["run", ...profile, ...SERVICE_FLAGS, "src/cli.ts", "serve"],
      servicePort,
      {
        ...serviceEnv(databaseUrl, servicePort, metricsPort),
        OIDC_ISSUER: oidcIssuer.issuer,
        OIDC_AUDIENCE: BENCH_AUDIENCE,
      },
    );
    children.push(service);
    await waitForOk(service, "/livez");
    await waitForOk(service, "/readyz");
    const rssAt: Record<string, Record<string, number>> = {};
    /** RSS, and the V8 heap as the service's own metrics report it. */
    const noteRss = async (when: string) => {
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const gauge = (name: string) =>
        round(Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1]) / 1048576, 1);
      rssAt[when] = {
        rss_mb: round(new RssSampler(service.pid).read().rssKb / 1024, 1),
        v8_heap_total_mb: gauge("deno_heap_size_total_bytes"),
        v8_heap_used_mb: gauge("deno_heap_size_used_bytes"),
      };
    };
    await noteRss("started");

    log(`seeding ${settings.users} users and ${settings.users * settings.itemsPerUser} items`);
    const seedStarted = performance.now();
    const passwordHash = await new PasswordHasher(SECRET_KEY).hash(PASSWORD);
    const seedConn = await mysql.createConnection({ uri: databaseUrl, timezone: "Z" });
    let seeded: SeededData;
    try {
      seeded = await seedDatabase(seedConn, {
        users: settings.users,
        itemsPerUser: settings.itemsPerUser,
        passwordHash,
      });
    } finally {
      await seedConn.end();
    }
    results.seed_ms = round(performance.now() - seedStarted, 0);

    // Disjoint user groups: readers hold long-lived sessions; refresh and login users churn.
    const readers = seeded.users.slice(0, settings.readers);
    const refreshUsers = seeded.users.slice(settings.readers, settings.readers + 200);
    const loginUsers = seeded.users.slice(-settings.loginUsers);
    log(`logging in ${readers.length} readers through POST /auth/token`);
    const readerTokens = await mapLimit(
      readers,
      4,
      (u) => login(service.baseUrl, u.username, PASSWORD),
    );
    await Deno.writeTextFile(
      `${dataDir}/tokens.txt`,
      readers.map((u, i) =>
        `${readerTokens[i]!.access_token} ${u.id} ${u.firstItemId} ${u.lastItemId}`
      ).join("\n") + "\n",
    );
    // One provider identity per reader; each token's first request links (creates) its user.
    const jwtTokens = await Promise.all(readers.map((_, i) =>
      oidcIssuer.mint(`bench-reader-${i}`, {
        roles: ["user"],
        scope: "items:read",
        preferred_username: `sso-reader-${i}`,
      })
    ));
    await mapLimit(jwtTokens, 4, async (token) => {
      const res = await fetch(`${service.baseUrl}/auth/me`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`Provider JWT refused: ${res.status} ${body}`);
    });
    await Deno.writeTextFile(`${dataDir}/jwt-tokens.txt`, jwtTokens.join("\n") + "\n");
    log(`creating an API key for each reader through POST /auth/api-keys`);
    const readerKeys = await mapLimit(readers.map((_u, i) => i), 4, async (i) => {
      const res = await fetch(`${service.baseUrl}/auth/api-keys`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${readerTokens[i]!.access_token}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ name: "bench", scopes: ["items:read", "items:write"] }),
      });
      const body = await res.json();
      if (res.status !== 201) throw new Error(`POST /auth/api-keys ${res.status}`);
      return body.key as string;
    });
    await Deno.writeTextFile(
      `${dataDir}/api-keys.txt`,
      readers.map((u, i) => `${readerKeys[i]} ${u.id} ${u.firstItemId} ${u.lastItemId}`).join(
        "\n",
      ) + "\n",
    );
    await Deno.writeTextFile(
      `${dataDir}/logins.txt`,
      loginUsers.map((u) => u.username).join("\n") + "\n",
    );
    let refreshRound = 0;
    const writeRefreshTokens = async () => {
      const users = Array.from(
        { length: settings.refreshTokens },
        (_, i) => refreshUsers[(refreshRound * settings.refreshTokens + i) % refreshUsers.length]!,
      );
      refreshRound++;
      const pairs = await mapLimit(users, 4, (u) => login(service.baseUrl, u.username, PASSWORD));
      await Deno.writeTextFile(
        `${dataDir}/refresh.txt`,
        pairs.map((p) => p.refresh_token).join("\n") + "\n",
      );
    };

    const barePort = freePort();
    const bare = spawn(
      "bare",
      ["run", "--allow-net", "--allow-env", "bench/baselines/bare.ts", `${barePort}`],
      barePort,
    );
    children.push(bare);
    const mysqlPort = freePort();
    const mysqlBaseline = spawn("mysql-baseline", [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "bench/baselines/mysql.ts",
      `${mysqlPort}`,
      databaseUrl,
      `${settings.poolSize}`,
    ], mysqlPort);
    children.push(mysqlBaseline);
    await waitForOk(bare, "/");
    await waitForOk(mysqlBaseline, "/items/1", { anyStatus: true }); // 401 without a token
    // The same bare server, sending every header the service sends on /livez.
    const livez = await fetch(`${service.baseUrl}/livez`);
    await livez.body?.cancel();
    const serviceHeaders = [...livez.headers]
      .filter(([name]) => !["date", "content-length"].includes(name))
      .map(([name, value]) => [name, name === "x-request-id" ? "*" : value]);
    const bareHeadersPort = freePort();
    const bareHeaders = spawn(
      "bare-headers",
      ["run", "--allow-net", "--allow-env", "bench/baselines/bare.ts", `${bareHeadersPort}`],
      bareHeadersPort,
      { BENCH_HEADERS: JSON.stringify(serviceHeaders) },
    );
    children.push(bareHeaders);
    await waitForOk(bareHeaders, "/");
    const baselines = { bare, bareHeaders, mysql: mysqlBaseline };

    const env = (extra: Record<string, string> = {}) => ({
      BENCH_DATA_DIR: dataDir,
      BENCH_ITEM_MIN: String(seeded.itemMin),
      BENCH_ITEM_MAX: String(seeded.itemMax),
      BENCH_USER_MIN: String(seeded.users[0]!.id),
      BENCH_USER_MAX: String(seeded.users.at(-1)!.id),
      BENCH_PASSWORD: PASSWORD,
      ...extra,
    });

    // Sanity: the baseline and the service answer the same request with 200.
    const probeToken = readerTokens[0]!.access_token;
    for (const target of [service, mysqlBaseline]) {
      const res = await fetch(`${target.baseUrl}/items/${seeded.itemMin}`, {
        headers: { Authorization: `Bearer ${probeToken}` },
      });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${target.name}: GET /items/1 ${res.status} ${body}`);
    }

    await noteRss("after_setup_logins");
    log("warm-up (JIT, connection pools)");
    for (const c of SELECTED_CASES.filter((c) => c.baseline)) {
      await wrk(`${service.baseUrl}${c.path}`, c.script, { durationS: 2, env: env() });
      const baseline = baselines[c.baseline!];
      await wrk(`${baseline.baseUrl}${c.path}`, c.script, { durationS: 2, env: env() });
    }

    await noteRss("after_warm_up");
    const sampler = new RssSampler(service.pid);
    const runs = new Map<string, { service: Measurement[]; baseline: Measurement[] }>();
    for (const c of SELECTED_CASES) runs.set(c.name, { service: [], baseline: [] });
    const ratios = new Map<string, number[]>();

    for (let pass = 0; pass < settings.rounds; pass++) {
      for (const c of SELECTED_CASES) {
        const entry = runs.get(c.name)!;
        const runService = async () => {
          if (c.freshRefreshTokens) await writeRefreshTokens();
          sampler.start();
          const m = await wrk(`${service.baseUrl}${c.path}`, c.script, {
            env: env({ BENCH_NONCE: `${nonce}-${pass}`, ...c.env }),
            pid: service.pid,
          });
          m.rss_mb = round(sampler.stop() / 1024, 1);
          entry.service.push(m);
          log(
            `round ${pass + 1} ${c.name}: service ${describeRun(m)}`,
          );
          return m;
        };
        if (!c.baseline) {
          await runService();
          continue;
        }
        const baseline = baselines[c.baseline];
        const runBaseline = async () => {
          const m = await wrk(`${baseline.baseUrl}${c.path}`, c.script, {
            env: env(),
            pid: baseline.pid,
          });
          entry.baseline.push(m);
          log(
            `round ${pass + 1} ${c.name}: baseline ${describeRun(m)}`,
          );
          return m;
        };
        // A/B in even rounds, B/A in odd ones: neither side always runs first.
        let s: Measurement, b: Measurement;
        if (pass % 2 === 0) {
          s = await runService();
          b = await runBaseline();
        } else {
          b = await runBaseline();
          s = await runService();
        }
        const list = ratios.get(c.name) ?? [];
        list.push(s.rps / b.rps);
        ratios.set(c.name, list);
      }
    }

    // WORKERS: the same reads against a second service on the same database, started with
    // WORKERS=1 and then WORKERS=BENCH_WORKERS, both on Redis (WORKERS > 1 needs it; the main
    // rows above count limits in memory). The CPU per request is not recorded: several processes.
    const workerRows: Array<Record<string, unknown>> = [];
    if (settings.workers > 1) {
      const workerCases = CASES.filter((c) => WORKER_CASE_NAMES.includes(c.name));
      for (const count of [1, settings.workers]) {
        const port = freePort();
        log(`service with WORKERS=${count} (Redis) on the same database`);
        const child = spawn(
          `service (WORKERS=${count})`,
          ["run", ...SERVICE_FLAGS, "src/cli.ts", "serve"],
          port,
          {
            ...serviceEnv(databaseUrl, port, freePort()),
            REDIS_URL: settings.redisUrl,
            REDIS_KEY_PREFIX: `items-bench-${nonce}-${count}:`,
            WORKERS: String(count),
          },
        );
        children.push(child);
        try {
          await waitForOk(child, "/readyz");
          for (const c of workerCases) {
            await wrk(`${child.baseUrl}${c.path}`, c.script, { durationS: 2, env: env() });
            const measured: Measurement[] = [];
            for (let pass = 0; pass < settings.rounds; pass++) {
              const m = await wrk(`${child.baseUrl}${c.path}`, c.script, { env: env(c.env) });
              log(`WORKERS=${count} ${c.name}: ${describeRun(m)}`);
              measured.push(m);
            }
            workerRows.push({ workers: count, name: c.name, ...summarize(measured) });
          }
        } finally {
          await child.stop();
        }
      }
    }
    results.workers = workerRows;

    log("GET /items/{id} at 1, 8, 64 and 256 connections (overload)");
    const overload = [];
    for (const connections of OVERLOAD_CONNECTIONS) {
      const m = await wrk(`${service.baseUrl}/items/1`, "items-get.lua", {
        connections,
        env: env(),
        pid: service.pid,
      });
      // This route answers 200 or, shedding load, 503: every non-2xx counts as refused.
      const durationS = m.requests / m.rps;
      const row = {
        connections,
        ok_rps: round((m.requests - m.errors) / durationS, 1),
        refused_rps: round(m.errors / durationS, 1),
        refused_share: round(m.errors / Math.max(1, m.requests), 3),
        p50_ms: m.p50_ms,
        p99_ms: m.p99_ms,
        cpu_us_per_request: m.cpu_us_per_request,
      };
      overload.push(row);
      log(
        `overload ${connections} connections: ${row.ok_rps} ok/s, ${row.refused_rps} refused/s, ` +
          `p99 ${row.p99_ms} ms`,
      );
    }
    const peakOk = Math.max(...overload.map((r) => r.ok_rps));
    const atMost = overload.at(-1)!;
    results.overload = {
      route: "GET /items/{id}",
      db_pool_size: settings.poolSize,
      rows: overload,
      peak_ok_rps: peakOk,
      ok_share_of_peak_at_256: round(atMost.ok_rps / peakOk, 3),
      target_share: 0.8,
      met: atMost.ok_rps >= 0.8 * peakOk,
    };

    log("GET /livez while POST /auth/token floods the service");
    const floodConnections = Math.max(2, Math.floor(settings.connections / 2));
    const [livezUnderFlood, flood] = await Promise.all([
      wrk(`${service.baseUrl}/livez`, "get.lua", {
        connections: floodConnections,
        durationS: settings.durationS + 2,
        env: env(),
      }),
      (async () => {
        sampler.start();
        const m = await wrk(`${service.baseUrl}/auth/token`, "auth-token.lua", {
          connections: floodConnections,
          durationS: settings.durationS + 2,
          env: env(),
        });
        m.rss_mb = round(sampler.stop() / 1024, 1);
        return m;
      })(),
    ]);
    log(`livez p99 under a login flood: ${livezUnderFlood.p99_ms} ms (${flood.rps} logins/s)`);

    let callgrind: InstructionCount[] = [];
    const callgrindCases = [...new Set(SELECTED_CASES.flatMap((c) => c.callgrind ?? []))];
    if (instructionsMethod === "callgrind" && callgrindCases.length > 0) {
      log("instructions per request under callgrind (a second service process, same database)");
      callgrind = await countWithCallgrind({
        serviceRoot: ROOT,
        databaseUrl,
        tokens: readerTokens.map((t) => t.access_token),
        itemMin: seeded.itemMin,
        itemMax: seeded.itemMax,
        cases: callgrindCases,
        log,
        onSpawn: (child) => children.push(child),
      });
    }

    await noteRss("end");
    const memory = sampler.read();
    const cases = SELECTED_CASES.map((c) => {
      const entry = runs.get(c.name)!;
      const baseline = c.baseline
        ? {
          name: BASELINE_NAMES[c.baseline],
          ...summarize(entry.baseline),
          runs: entry.baseline,
        }
        : null;
      const ratio = c.baseline ? round(median(ratios.get(c.name)!), 3) : null;
      const service = summarize(entry.service);
      const counted = callgrind.find((n) => n.name === c.callgrind);
      return {
        name: c.name,
        service: {
          ...service,
          ...(counted
            ? {
              kinstr_per_request: counted.kinstr_per_request,
              kinstr_all_threads_per_request: counted.kinstr_all_threads_per_request,
            }
            : {}),
          ...(counted || service.kinstr_per_request !== undefined
            ? { instructions_method: instructionsMethod }
            : {}),
          runs: entry.service,
        },
        baseline,
        ratio,
        target_ratio: c.target ?? null,
        met: ratio === null || c.target === undefined ? null : ratio >= c.target,
      };
    });
    results.cases = cases;
    results.instructions = {
      method: instructionsMethod,
      ...(callgrind.length ? { callgrind } : {}),
    };
    results.login_flood = {
      connections_each: floodConnections,
      livez: livezUnderFlood,
      auth_token: flood,
      target_p99_ms: 50,
      met: livezUnderFlood.p99_ms < 50,
    };
    results.memory = {
      at: rssAt,
      max_rss_mb_under_load: round(sampler.maxRssKb / 1024, 1),
      vm_hwm_mb: round(memory.hwmKb / 1024, 1),
      rss_mb_at_end: round(memory.rssKb / 1024, 1),
      target_mb: 200,
      met: memory.hwmKb / 1024 < 200,
    };
    const coldMedian = median(cold.fresh_ms);
    results.targets = [
      ...cases.filter((c) => c.ratio !== null && c.target_ratio !== null).map((c) => ({
        target: `${c.name} >= ${c.target_ratio} x ${c.baseline!.name}`,
        measured: c.ratio,
        met: c.met,
      })),
      {
        target: "GET /items/{id} at 256 connections completes >= 80 % of its peak successful rate",
        measured: (results.overload as { ok_share_of_peak_at_256: number }).ok_share_of_peak_at_256,
        met: (results.overload as { met: boolean }).met,
      },
      {
        target: "GET /livez p99 < 50 ms during a login flood",
        measured: livezUnderFlood.p99_ms,
        met: livezUnderFlood.p99_ms < 50,
      },
      {
        target: "RSS under load < 200 MB (VmHWM)",
        measured: round(memory.hwmKb / 1024, 1),
        met: memory.hwmKb / 1024 < 200,
      },
      {
        target: "cold start < 500 ms (SQLite, fresh database, median of 5)",
        measured: coldMedian,
        met: coldMedian < 500,
      },
    ];
    results.total_s = round((performance.now() - wall) / 1000, 0);

    const warnings = service.stderrTail().split("\n").filter((l) =>
      /"level":"(ERROR|FATAL)"/.test(l)
    );
    if (warnings.length > 0) {
      log(`the service logged ${warnings.length} error line(s); last: ${warnings.at(-1)}`);
    }
    results.service_error_log_lines = warnings.length;

    await Deno.mkdir(settings.outDir, { recursive: true });
    await Deno.writeTextFile(
      `${settings.outDir}/latest.json`,
      JSON.stringify(results, null, 2) + "\n",
    );
    await Deno.writeTextFile(`${settings.outDir}/latest.md`, renderMarkdown(results));
    // Committed files: keep them as `deno fmt --check` wants them (tables aligned, prose wrapped).
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", `${settings.outDir}/latest.json`, `${settings.outDir}/latest.md`],
      cwd: ROOT,
    }).output();
    log(`wrote ${settings.outDir}/latest.json and latest.md in ${results.total_s} s`);
    console.log("\n" + await Deno.readTextFile(`${settings.outDir}/latest.md`));
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    for (const child of children.reverse()) await child.stop();
    for (const stop of stoppers) await stop();
    await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.end();
    await Deno.remove(dataDir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Markdown

// deno-lint-ignore no-explicit-any
function renderMarkdown(r: any): string {
  const lines: string[] = [];
  const s = r.settings;
  lines.push(
    `Measured ${r.generated_at.slice(0, 16).replace("T", " ")} UTC at ${r.git_commit ?? "?"} on ` +
      `${r.machine.cpu} (${r.machine.cores} cores, shared), Deno ${r.machine.deno}; ` +
      `wrk ${s.threads} thread(s), ${s.connections} connections, ${s.duration_s} s per run, ` +
      `${s.rounds} rounds alternating service and baseline, medians shown. ` +
      `MariaDB with ${s.users} users and ${s.items} items; access log on (info, JSON); ` +
      `service started as \`deno task start\` does (\`${s.service_flags.split(" ")[0]}\`).`,
    "",
    "| case | service rps | p50 ms | p99 ms | CPU µs/req | k instr/req | baseline | baseline rps | p50 ms | p99 ms | CPU µs/req | k instr/req | ratio |",
    "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
  );
  for (const c of r.cases) {
    const b = c.baseline;
    const sv = c.service;
    const errors = sv.errors ? ` (${sv.errors} errors)` : "";
    const service =
      `${fmt(sv.rps)} | ${sv.p50_ms} | ${sv.p99_ms} | ${sv.cpu_us_per_request ?? ""} | ` +
      `${sv.kinstr_per_request ?? ""}`;
    const baseline = b
      ? `${b.name} | ${fmt(b.rps)} | ${b.p50_ms} | ${b.p99_ms} | ${b.cpu_us_per_request ?? ""} | ` +
        `${b.kinstr_per_request ?? ""} | **${c.ratio}**`
      : "| | | | | |";
    lines.push(`| ${c.name}${errors} | ${service} | ${baseline} |`);
  }
  const callgrind = r.instructions?.callgrind;
  if (callgrind) {
    lines.push(
      "",
      "k instr/req of the service: Valgrind's callgrind (no hardware counters here) on a second " +
        `service process, its main thread over ${callgrind[0].requests} sequential keep-alive ` +
        "requests after a warm-up (`deno task bench:instructions`); all threads, V8's concurrent " +
        "GC and compiler included: " +
        callgrind.map((n: InstructionCount) => `${n.name} ${n.kinstr_all_threads_per_request}k`)
          .join(", ") +
        ".",
    );
  } else if (r.instructions?.method === "perf") {
    lines.push("", "k instr/req: `perf stat` on every run, all threads of the process.");
  }
  lines.push("", "| target | measured | met |", "|---|---:|:---:|");
  for (const t of r.targets) {
    lines.push(`| ${t.target} | ${t.measured} | ${t.met ? "yes" : "**no**"} |`);
  }
  if (r.workers?.length) {
    lines.push(
      "",
      "WORKERS: the same reads against a service started with WORKERS=1 and with more workers " +
        "(processes sharing the port), both counting limits in Redis; medians of the rounds.",
      "",
      "| case | WORKERS | rps | p50 ms | p99 ms | errors |",
      "|---|---:|---:|---:|---:|---:|",
    );
    for (const row of r.workers) {
      lines.push(
        `| ${row.name} | ${row.workers} | ${fmt(row.rps)} | ${row.p50_ms} | ${row.p99_ms} | ` +
          `${row.errors} |`,
      );
    }
  }
  if (r.overload) {
    lines.push(
      "",
      `Overload, ${r.overload.route} (pool ${r.overload.db_pool_size}): successful answers per ` +
        `second stay at ${r.overload.ok_share_of_peak_at_256} of the peak at 256 connections; ` +
        "the rest are refused at once with 503 and Retry-After.",
      "",
      "| connections | ok/s | refused/s | refused share | p50 ms | p99 ms | CPU µs/req |",
      "|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const row of r.overload.rows) {
      lines.push(
        `| ${row.connections} | ${fmt(row.ok_rps)} | ${fmt(row.refused_rps)} | ` +
          `${row.refused_share} | ${row.p50_ms} | ${row.p99_ms} | ${
            row.cpu_us_per_request ?? ""
          } |`,
      );
    }
  }
  lines.push(
    "",
    `Login flood: ${r.login_flood.auth_token.rps} logins/s on ${r.login_flood.connections_each} ` +
      `connections while GET /livez ran at ${fmt(r.login_flood.livez.rps)} rps, ` +
      `p50 ${r.login_flood.livez.p50_ms} ms, p99 ${r.login_flood.livez.p99_ms} ms. ` +
      `Service memory: peak RSS ${r.memory.vm_hwm_mb} MB (VmHWM), ${r.memory.rss_mb_at_end} MB ` +
      `after the run. Cold start on SQLite (process start to first 200, median of 5): ` +
      `${r.cold_start.median_fresh_ms} ms on a fresh database (migrations and bootstrap admin ` +
      `included), ${r.cold_start.median_existing_ms} ms on an existing one.`,
    "",
  );
  return lines.join("\n");
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

if (import.meta.main) {
  await main();
}
