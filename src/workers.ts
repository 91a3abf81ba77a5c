/**
 * The primary of `WORKERS` > 1: it serves no API itself. It starts one child process per
 * worker — this same program again (`deno run` with the flags of `deno task start`, or the
 * compiled binary) marked by the internal ITEMS_API_WORKER_INDEX variable — each listening on
 * PORT with SO_REUSEPORT, so the kernel (Linux) spreads connections across them. It serves
 * METRICS_PORT with the sum of the workers' metrics, replaces a worker that dies (with a
 * backoff), and on SIGTERM/SIGINT drains every worker and exits. See docs/operations.md,
 * "Workers".
 *
 * @module
 */
import { type Config, ConfigError } from "@/config.ts";
import { clickableUrl } from "@/runtime/listen-url.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { aggregatedMetrics, serveMetrics } from "@/runtime/metrics-server.ts";

/** The V8 flags of `deno task start`, given to each worker under `deno run`. */
const WORKER_V8_FLAGS = "--v8-flags=--max-semi-space-size=8,--max-old-space-size=512";
/** First wait before a dead worker is replaced; doubled per quick death, up to the maximum. */
const RESTART_BACKOFF_MIN_MS = 250;
const RESTART_BACKOFF_MAX_MS = 30_000;
/** A worker that lived this long before dying resets the backoff. */
const HEALTHY_RUN_MS = 30_000;
/** Beyond SHUTDOWN_TIMEOUT, how long the primary waits before it kills a worker still running. */
const KILL_GRACE_MS = 5_000;

/** How a worker is started: the program and its arguments. */
export interface WorkerCommand {
  readonly program: string;
  readonly args: readonly string[];
}

/**
 * This program again. A compiled binary (`Deno.build.standalone`) is `Deno.execPath()` itself
 * and carries its permissions. Under `deno run`, `Deno.execPath()` is `deno`: the main module
 * is run with the permissions this process holds (`Deno.permissions` cannot tell a scoped grant
 * apart, so a granted one becomes `--allow-<name>`; FFI, which `deno task start` scopes to the
 * `@node-rs` folder, gets that scope), the V8 flags of `deno task start` and `--unstable-net`
 * (`reusePort`; deno.json's `unstable` also lists it).
 */
export function workerCommand(): WorkerCommand {
  if (Deno.build.standalone) return { program: Deno.execPath(), args: ["serve"] };
  const flags: string[] = [];
  for (const name of ["net", "env", "read", "write", "sys", "run", "import"] as const) {
    if (Deno.permissions.querySync({ name }).state === "granted") flags.push(`--allow-${name}`);
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
    flags.push("--allow-ffi");
  } else {
    const scope = nodeRsFolder();
    if (
      scope !== undefined &&
      Deno.permissions.querySync({ name: "ffi", path: scope }).state === "granted"
    ) {
      flags.push(`--allow-ffi=${scope}`);
    }
  }
  return {
    program: Deno.execPath(),
    args: [
      "run",
      "--no-prompt",
      "--unstable-net",
      WORKER_V8_FLAGS,
      ...flags,
      Deno.mainModule,
      "serve",
    ],
  };
}

/** The `@node-rs` folder of the npm cache (as scripts/ffi-scope.ts prints), if it resolves. */
function nodeRsFolder(): string | undefined {
  try {
    const url = import.meta.resolve("@node-rs/argon2");
    if (!url.startsWith("file:")) return undefined;
    const path = decodeURIComponent(new URL(url).pathname);
    return /^(.*[\\/]@node-rs)[\\/]argon2[\\/]/.exec(path)?.[1];
  } catch {
    return undefined;
  }
}

/** A loopback port free right now (the worker binds it a moment later). */
function freeLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

interface Slot {
  readonly index: number;
  child: Deno.ChildProcess | undefined;
  metricsUrl: string | undefined;
}

/** Run the primary until SIGTERM/SIGINT has drained every worker; returns the exit code. */
export async function runPrimary(
  config: Config,
  command: WorkerCommand = workerCommand(),
): Promise<number> {
  const log = getAppLogger("workers");
  // Starting the workers runs this program: `deno task start` grants exactly that.
  if (Deno.permissions.querySync({ name: "run", command: command.program }).state !== "granted") {
    throw new ConfigError([
      `WORKERS: ${config.workers} workers are started as child processes, which needs ` +
      `--allow-run=${command.program} (deno task start grants it)`,
    ]);
  }
  for (const warning of config.warnings) log.warning(warning);
  const count = config.workers;
  const slots: Slot[] = Array.from(
    { length: count },
    (_, index) => ({ index, child: undefined, metricsUrl: undefined }),
  );
  let stopping = false;
  let wakeUp = () => {};
  const stopped = new Promise<void>((resolve) => (wakeUp = resolve));

  const metricsServer = config.http.metricsPort === 0 ? undefined : serveMetrics(
    aggregatedMetrics(() =>
      slots.flatMap((slot) => slot.metricsUrl === undefined ? [] : [slot.metricsUrl])
    ),
    {
      hostname: config.http.host,
      port: config.http.metricsPort,
      onListen: ({ hostname, port }) => {
        const url = `${clickableUrl(hostname, port)}/metrics`;
        log.info(`Metrics of all ${count} workers on ${url}`, { url });
      },
    },
  );

  const sleep = (ms: number) =>
    Promise.race([stopped, new Promise<void>((resolve) => setTimeout(resolve, ms))]);

  async function supervise(slot: Slot): Promise<void> {
    let quickDeaths = 0;
    while (!stopping) {
      const metricsPort = freeLoopbackPort();
      const child = new Deno.Command(command.program, {
        args: [...command.args],
        env: {
          WORKERS: String(count),
          ITEMS_API_WORKER_INDEX: String(slot.index),
          ITEMS_API_WORKER_METRICS_PORT: String(metricsPort),
        },
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      slot.child = child;
      slot.metricsUrl = `http://127.0.0.1:${metricsPort}/metrics.json`;
      log.info("Started worker {worker} (pid {pid})", { worker: slot.index, pid: child.pid });
      const startedAt = Date.now();
      const status = await child.status;
      slot.child = undefined;
      slot.metricsUrl = undefined;
      if (stopping) {
        log.info("Worker {worker} (pid {pid}) stopped (exit code {code})", {
          worker: slot.index,
          pid: child.pid,
          code: status.code,
        });
        return;
      }
      quickDeaths = Date.now() - startedAt >= HEALTHY_RUN_MS ? 1 : quickDeaths + 1;
      const delayMs = Math.min(
        RESTART_BACKOFF_MAX_MS,
        RESTART_BACKOFF_MIN_MS * 2 ** (quickDeaths - 1),
      );
      log.error(
        "Worker {worker} (pid {pid}) died (exit code {code}, signal {signal}): " +
          "replacing it in {delay_ms} ms",
        {
          worker: slot.index,
          pid: child.pid,
          code: status.code,
          signal: status.signal ?? "none",
          delay_ms: delayMs,
        },
      );
      await sleep(delayMs);
    }
  }

  log.info("Starting {count} workers on port {port} (SO_REUSEPORT)", {
    count,
    port: config.http.port,
  });
  const supervised = Promise.all(slots.map(supervise));

  let stopSignal: Deno.Signal | undefined;
  const onSignal = (signal: Deno.Signal) => () => {
    if (stopping) return;
    stopping = true;
    stopSignal = signal;
    wakeUp();
  };
  const handlers = (["SIGTERM", "SIGINT"] as const).map((s) => [s, onSignal(s)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);

  await stopped;
  log.info("Shutting down ({reason}): draining {count} workers", {
    reason: stopSignal ?? "shutdown requested",
    count,
  });
  for (const slot of slots) {
    try {
      slot.child?.kill("SIGTERM");
    } catch {
      // already gone
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drained = await Promise.race([
    supervised.then(() => true),
    new Promise<false>((resolve) =>
      timer = setTimeout(() => resolve(false), config.http.shutdownTimeoutMs + KILL_GRACE_MS)
    ),
  ]);
  clearTimeout(timer);
  if (!drained) {
    for (const slot of slots) {
      if (slot.child === undefined) continue;
      log.warning("Worker {worker} (pid {pid}) still running: killing it", {
        worker: slot.index,
        pid: slot.child.pid,
      });
      try {
        slot.child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    await supervised;
  }
  await metricsServer?.shutdown();
  log.info("Stopped");
  return 0;
}
