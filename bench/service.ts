/**
 * Processes and setup helpers shared by the bench scripts: the service's flags and environment
 * as `deno task start` runs it, child processes with their stderr kept, logins.
 *
 * @module
 */
import { ffiScope } from "../scripts/ffi-scope.ts";

/** The checkout the bench scripts belong to (and run the service from by default). */
export const ROOT = new URL("../", import.meta.url).pathname;

/** Connections in the service's (and the MySQL baseline's) database pool. */
export const DB_POOL_SIZE = 10;

export const SECRET_KEY = "bench-secret-key-that-is-at-least-32-characters-long";
export const PASSWORD = "bench-password-1234";
export const ADMIN_PASSWORD = "bench-admin-password-1234";
/** The service flags of `deno task start` (and of the compiled binary); BENCH_V8_FLAGS overrides. */
export const SERVICE_FLAGS = [
  `--v8-flags=${
    Deno.env.get("BENCH_V8_FLAGS") ?? "--max-semi-space-size=8,--max-old-space-size=512"
  }`,
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
  // As the tasks grant it: Node-API addons from the native Argon2id binding's folder only.
  `--allow-ffi=${ffiScope(import.meta.resolve("@node-rs/argon2"))}`,
  // As `deno task start` grants it: WORKERS > 1 runs this deno again, nothing else.
  `--allow-run=${Deno.execPath()}`,
];

// ---------------------------------------------------------------------------------------------
// Processes

/** A child process serving HTTP on `port`. */
export interface Child {
  name: string;
  pid: number;
  port: number;
  baseUrl: string;
  process: Deno.ChildProcess;
  /** The last 64 KiB of stderr (warnings and errors), for diagnostics. */
  stderrTail(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

/**
 * Start `deno <args>` (or `command <args>`) in `cwd` (the repository root by default), stdout to
 * /dev/null and the tail of stderr kept.
 */
export function spawn(
  name: string,
  args: string[],
  port: number,
  env: Record<string, string> = {},
  { command = Deno.execPath(), cwd = ROOT }: { command?: string; cwd?: string } = {},
): Child {
  const process = new Deno.Command(command, {
    args,
    cwd,
    env,
    stdin: "null",
    // The access log goes to stdout: the service formats every line, nobody reads it.
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let tail = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of process.stderr) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-65_536);
    }
  })();
  let exited = false;
  const status = process.status.then((s) => {
    exited = true;
    return s;
  });
  return {
    name,
    pid: process.pid,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    process,
    stderrTail: () => tail,
    exited: () => exited,
    stop: async () => {
      if (!exited) {
        try {
          process.kill("SIGTERM");
        } catch {
          // already gone
        }
      }
      const timer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 15_000);
      await status;
      clearTimeout(timer);
      await pump;
    },
  };
}

/** Poll `path` until it answers 200 (or anything at all, with `anyStatus`). */
export async function waitForOk(
  child: Child,
  path: string,
  { timeoutMs = 30_000, anyStatus = false } = {},
): Promise<number> {
  const started = performance.now();
  for (;;) {
    try {
      const res = await fetch(`${child.baseUrl}${path}`);
      await res.body?.cancel();
      if (res.status === 200 || anyStatus) return performance.now() - started;
    } catch {
      // not listening yet
    }
    if (child.exited() || performance.now() - started > timeoutMs) {
      await delay(50); // let the last of stderr arrive
      throw new Error(`${child.name} did not answer 200 on ${path}:\n${child.stderrTail()}`);
    }
    await delay(5);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The service's environment in the bench: production, rate limits far above the load. */
export function serviceEnv(databaseUrl: string, port: number, metricsPort: number) {
  return {
    APP_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    DATABASE_URL: databaseUrl,
    DB_POOL_SIZE: String(DB_POOL_SIZE),
    SECRET_KEY,
    ADMIN_USERNAME: "admin",
    ADMIN_PASSWORD,
    // The bench measures throughput, not the limiter's refusals: limits far above the load.
    RATE_LIMIT_LOGIN_MAX: "1000000",
    RATE_LIMIT_LOGIN_IP_MAX: "1000000",
    RATE_LIMIT_API_MAX: "100000000",
    RATE_LIMIT_API_KEY_MAX: "100000000",
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    NO_COLOR: "1",
    // As the Dockerfile and `deno task start` set it: Argon2id buffers go back to the OS.
    MALLOC_MMAP_THRESHOLD_: "131072",
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers for setup

/** The answer of `POST /auth/token`. */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  user_id: number;
}

/** `POST /auth/token`; throws unless it answers 200. */
export async function login(
  baseUrl: string,
  username: string,
  password: string,
): Promise<TokenPair> {
  const res = await fetch(`${baseUrl}/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) {
    throw new Error(`Login of ${username} failed: ${res.status} ${await res.text()}`);
  }
  return await res.json() as TokenPair;
}

/** Run `fn` over `inputs` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  inputs: T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(inputs.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < inputs.length) {
      const i = next++;
      out[i] = await fn(inputs[i]!);
    }
  }));
  return out;
}
