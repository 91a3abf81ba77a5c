/**
 * WORKERS: the real service with `serve --workers 2` (a primary and two worker processes on
 * one port) over a fresh MySQL database and Redis; and the configuration that refuses it.
 */
import { parseConfig } from "@/config.ts";
import { ConfigError } from "@/config.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestDatabase, MYSQL_SERVER_URL } from "./helpers/databases.ts";
import { freePort, startServiceProcess } from "./helpers/process.ts";

const TEST_REDIS_URL = Deno.env.get("TEST_REDIS_URL") || undefined;
const LOGIN_MAX = 4;

/** A request on a connection of its own, so the kernel may hand it to either worker. */
async function fresh(url: string, init: RequestInit = {}): Promise<Response> {
  const client = Deno.createHttpClient({});
  try {
    const res = await fetch(url, { ...init, client });
    await res.bytes();
    return res;
  } finally {
    client.close();
  }
}

/** The messages of the JSON log lines written so far. */
function messages(output: string): string[] {
  return output.split("\n").flatMap((line) => {
    try {
      const record = JSON.parse(line) as { message?: unknown };
      return typeof record.message === "string" ? [record.message] : [];
    } catch {
      return [];
    }
  });
}

/** The last pid the primary reported for worker `index`, and that worker's JSON metrics port. */
function workerPid(output: string, index: number): number | undefined {
  const pids = messages(output).flatMap((m) => {
    const match = new RegExp(`^Started worker ${index} \\(pid (\\d+)\\)$`).exec(m);
    return match ? [Number(match[1])] : [];
  });
  return pids.at(-1);
}

function workerMetricsPort(output: string, pid: number): number | undefined {
  for (const m of messages(output)) {
    const match = /^Worker \d+ \(pid (\d+)\): metrics JSON on 127\.0\.0\.1:(\d+)$/.exec(m);
    if (match && Number(match[1]) === pid) return Number(match[2]);
  }
  return undefined;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The sum of a counter's samples in Prometheus text, over the lines matching `filter`. */
function sumSamples(text: string, name: string, filter = ""): number {
  return text.split("\n")
    .filter((line) => line.startsWith(`${name}{`) && line.includes(filter))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

Deno.test({
  name: "two workers behave as one service: shared port, exact login limit, summed metrics, " +
    "one purge schedule, a killed worker replaced, SIGTERM drains both",
  ignore: !MYSQL_SERVER_URL || !TEST_REDIS_URL,
  async fn(t) {
    const database = await createTestDatabase("mysql");
    const metricsPort = freePort();
    const service = await startServiceProcess({
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL!,
      REDIS_KEY_PREFIX: `workers-test-${crypto.randomUUID().slice(0, 8)}:`,
      METRICS_PORT: String(metricsPort),
      RATE_LIMIT_LOGIN_MAX: String(LOGIN_MAX),
      SHUTDOWN_TIMEOUT: "5s",
    }, { args: ["serve", "--workers", "2"], timeoutMs: 30_000 });
    let stopped = false;
    try {
      // Both workers listening (the first /livez may have come from only one).
      await waitFor(
        "both workers to listen",
        () =>
          messages(service.output()).filter((m) => /^Listening on .*worker \d, pid/.test(m))
            .length >= 2,
      );
      const sent = 40;

      await t.step("requests on fresh connections are answered by both workers", async () => {
        for (let i = 0; i < sent; i++) {
          assertEquals((await fresh(`${service.baseUrl}/livez`)).status, 200);
        }
        for (const index of [0, 1]) {
          const pid = workerPid(service.output(), index)!;
          const port = workerMetricsPort(service.output(), pid);
          assert(port !== undefined, `worker ${index} reported its metrics port`);
          const res = await fetch(`http://127.0.0.1:${port}/metrics.json`);
          const json = await res.json() as Array<
            { name: string; values: Array<{ value: number; labels: Record<string, string> }> }
          >;
          const served = json.find((m) => m.name === "http_requests_total")!.values
            .filter((v) => v.labels.route === "/livez")
            .reduce((sum, v) => sum + v.value, 0);
          assert(served > 0, `worker ${index} answered some of the ${sent} requests`);
        }
      });

      await t.step("the METRICS_PORT /metrics counts are the sum over the workers", async () => {
        const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
        const text = await res.text();
        assertEquals(res.status, 200);
        assert(
          sumSamples(text, "http_requests_total", 'route="/livez"') >= sent,
          "at least every /livez sent is counted",
        );
        // Not summed: one build_info sample of 1.
        assert(/^items_api_build_info\{.*\} 1$/m.test(text), "build info stays 1");
      });

      await t.step("the login limit is exact across workers", async () => {
        const body = JSON.stringify({ username: "admin", password: "wrong-password-123" });
        const init = { method: "POST", headers: { "Content-Type": "application/json" }, body };
        const statuses: number[] = [];
        for (let i = 0; i <= LOGIN_MAX; i++) {
          statuses.push((await fresh(`${service.baseUrl}/auth/token`, init)).status);
        }
        assertEquals(statuses, [...Array(LOGIN_MAX).fill(401), 429]);
      });

      await t.step("only worker 0 schedules the token purge", () => {
        const scheduled = messages(service.output()).filter((m) =>
          m.includes("schedules the token purge")
        );
        assertEquals(scheduled.length, 1);
        assert(scheduled[0]!.startsWith("Worker 0 "), scheduled[0]);
      });

      await t.step("a killed worker is logged and replaced while the service answers", async () => {
        const pid = workerPid(service.output(), 1)!;
        Deno.kill(pid, "SIGKILL");
        // Connections the kernel had queued on the killed worker's socket are reset with it
        // (SO_REUSEPORT; docs/operations.md, "Workers"): ask once its death is known.
        await waitFor(
          "the death to be logged",
          () =>
            messages(service.output()).some((m) =>
              m.startsWith(`Worker 1 (pid ${pid}) died (exit code`)
            ),
        );
        for (let i = 0; i < 10; i++) {
          assertEquals((await fresh(`${service.baseUrl}/livez`)).status, 200);
        }
        await waitFor("worker 1 to be replaced", () => {
          const now = workerPid(service.output(), 1);
          return now !== pid &&
            messages(service.output()).some((m) => m.endsWith(`worker 1, pid ${now})`));
        });
        assert(
          messages(service.output()).some((m) =>
            m.startsWith(`Worker 1 (pid ${pid}) died (exit code`)
          ),
          "the death is logged",
        );
        assertEquals((await fresh(`${service.baseUrl}/readyz`)).status, 200);
      });

      await t.step("SIGTERM drains every worker and the primary exits 0", async () => {
        const pids = [workerPid(service.output(), 0)!, workerPid(service.output(), 1)!];
        const status = await service.stop(20_000);
        stopped = true;
        assertEquals(status.code, 0);
        for (const [index, pid] of pids.entries()) {
          assert(
            messages(service.output()).includes(
              `Worker ${index} (pid ${pid}) stopped (exit code 0)`,
            ),
            `worker ${index} drained and exited 0`,
          );
        }
      });
    } finally {
      if (!stopped) await service.stop(5_000);
      await database.drop();
    }
  },
});

const BASE = { APP_ENV: "test", DATABASE_URL: "mysql://u:p@db:3306/items" };

function configProblems(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return "";
}

Deno.test("WORKERS=2 with a SQLite database is refused with a ConfigError naming WORKERS", () => {
  const message = configProblems({
    APP_ENV: "test",
    DATABASE_URL: "sqlite::memory:",
    REDIS_URL: "redis://cache:6379",
    WORKERS: "2",
  });
  assert(/WORKERS: .*SQLite.*database is locked/.test(message), message);
});

Deno.test("WORKERS=2 without REDIS_URL is refused with a ConfigError naming WORKERS", () => {
  const message = configProblems({ ...BASE, WORKERS: "2" });
  assert(/WORKERS: .*REDIS_URL/.test(message), message);
});

Deno.test("WORKERS=auto parses to the cores available, and hashing slots split among them", () => {
  const config = parseConfig({ ...BASE, REDIS_URL: "redis://cache:6379", WORKERS: "auto" });
  const cores = Math.max(1, navigator.hardwareConcurrency || 1);
  assertEquals(config.workers, cores);
  assertEquals(config.auth.hashConcurrency, Math.max(1, Math.floor((cores - 1) / cores)));
  const one = parseConfig(BASE);
  assertEquals(one.workers, 1);
  assertEquals(one.auth.hashConcurrency, Math.max(1, cores - 1));
});

Deno.test("WORKERS that is neither auto nor a whole number from 1 to 256 is refused", () => {
  for (const value of ["0", "two", "257"]) {
    assert(/WORKERS: Cannot use/.test(configProblems({ ...BASE, WORKERS: value })), value);
  }
});

async function serveOutput(
  permissions: string[],
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; text: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, "src/cli.ts", "serve", ...args],
    env: { APP_ENV: "test", METRICS_PORT: "0", PORT: String(freePort()), ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    text: decoder.decode(output.stdout) + decoder.decode(output.stderr),
  };
}

Deno.test("serve --workers overrides WORKERS, and is refused with SQLite naming WORKERS", async () => {
  const { code, text } = await serveOutput(["-A"], ["--workers", "2"], {
    WORKERS: "1",
    DATABASE_URL: "sqlite::memory:",
    REDIS_URL: "redis://127.0.0.1:1",
  });
  assertEquals(code, 1);
  assert(/WORKERS: 2 workers cannot share a SQLite database/.test(text), text);
});

Deno.test("without --allow-run for its own executable the primary refuses WORKERS=2", async () => {
  const { code, text } = await serveOutput(
    ["--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys"],
    ["--workers", "2"],
    { DATABASE_URL: "mysql://u:p@127.0.0.1:1/items", REDIS_URL: "redis://127.0.0.1:1" },
  );
  assertEquals(code, 1);
  assert(/WORKERS: .*--allow-run=/.test(text), text);
});
