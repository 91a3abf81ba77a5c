/**
 * The service process: parse config, open the database, migrate, bootstrap the admin, build
 * the app, serve it, and shut down gracefully on SIGTERM/SIGINT. Importing this module starts
 * nothing; `startService` (called by `cli.ts serve`) does.
 *
 * @module
 */
import { createApp } from "@/app.ts";
import type { Config } from "@/config.ts";
import { type ScheduledTokenPurge, scheduleTokenPurge } from "@/cron/purge-expired-tokens.ts";
import { createDeps } from "@/deps.ts";
import { clickableUrl, isLoopbackHost } from "@/runtime/listen-url.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { metricsJsonHandler, serveMetrics } from "@/runtime/metrics-server.ts";
import { serveResilient } from "@/runtime/resilient-server.ts";

/** How long uploads on a listener whose accept loop failed may take before it is drained. */
const UPLOAD_GRACE_BEFORE_DRAIN_MS = 5_000;

/** A started service. */
export interface RunningService {
  /** The port the API listens on (useful with `PORT=0`). */
  readonly port: number;
  /** The port of the `/metrics` listener, or undefined when `METRICS_PORT=0` disabled it. */
  readonly metricsPort: number | undefined;
  /** Resolves once the service has shut down. */
  readonly finished: Promise<void>;
  /** Drain and stop: no new connections, in-flight requests finish (bounded), pool closed. */
  shutdown(reason?: string): Promise<void>;
  /** The signal (SIGTERM, SIGINT) that started the shutdown, if one did. */
  readonly stopSignal: Deno.Signal | undefined;
  /** Remove the service's signal listeners, so the signal's default action applies again. */
  releaseSignals(): void;
}

/** Start the service described by `config`; logging must already be set up. */
export async function startService(config: Config): Promise<RunningService> {
  const log = getAppLogger();
  for (const warning of config.warnings) log.warning(warning);

  const deps = await createDeps(config);
  const { db, lifecycle, metrics } = deps;
  // Off the event loop and not awaited: startup does not wait for it.
  void deps.passwords.warmUp();
  const backend = deps.passwords.backend;
  log.info(
    `Password hashing: Argon2id on ${
      backend === "native" ? "the native binding (@node-rs/argon2)" : "Web Crypto"
    }`,
    { password_hash_backend: backend },
  );
  const app = createApp(deps);

  const worker = config.worker;
  // Among workers only worker 0 schedules the purge (the job's database lock also keeps two
  // hosts from running it at once).
  let tokenPurge: ScheduledTokenPurge | undefined;
  try {
    if (worker === undefined || worker.index === 0) {
      tokenPurge = scheduleTokenPurge(
        { db, clock: deps.clock, metrics, auditRetentionMs: config.auditRetentionMs },
        config.tokenPurgeCron,
      );
      if (worker !== undefined) {
        log.info("Worker {worker} schedules the token purge ({cron})", {
          worker: worker.index,
          cron: config.tokenPurgeCron,
        });
      }
    }
  } catch (error) {
    await deps.close();
    throw error;
  }
  const stopEventLoopMonitor = metrics.startEventLoopMonitor();

  // A worker's metrics go, as JSON, to the primary only: loopback, on the port it was given.
  const metricsServer = worker !== undefined
    ? serveResilient({
      hostname: "127.0.0.1",
      port: worker.metricsPort,
      onListen: ({ port }) => {
        log.info("Worker {worker} (pid {pid}): metrics JSON on 127.0.0.1:{metrics_port}", {
          worker: worker.index,
          pid: Deno.pid,
          metrics_port: port,
        });
      },
    }, metricsJsonHandler(metrics))
    // Its own listener, so the public port never exposes /metrics; METRICS_PORT=0 disables it.
    : config.http.metricsPort === 0
    ? undefined
    : serveMetrics(metrics, {
      hostname: config.http.host,
      port: config.http.metricsPort,
      onListen: ({ hostname, port }) => {
        // Plain text, not template values: the pretty log would quote them inside the URL.
        const url = `${clickableUrl(hostname, port)}/metrics`;
        log.info(`Metrics on ${url}`, { url });
      },
      onAcceptStopped: (error, occurrences) => {
        log.error("Metrics listener not accepting ({error}; {occurrences} time(s)): retrying", {
          error: (error as Error)?.message ?? String(error),
          occurrences,
        });
      },
    });

  const server = serveResilient({
    hostname: config.http.host,
    port: config.http.port,
    // Workers share the port; the kernel (Linux) spreads the connections among them.
    reusePort: worker !== undefined,
    // Uploads still being read on a failed listener get a moment to finish before its drain.
    beforeDrain: () => lifecycle.uploadsFinished(UPLOAD_GRACE_BEFORE_DRAIN_MS),
    onAcceptStopped: (error, occurrences) => {
      log.error(
        "Not accepting connections ({error}; {occurrences} time(s) since the last report): " +
          "serving the open ones, closing idle ones, listening again when descriptors free up",
        { error: (error as Error)?.message ?? String(error), occurrences },
      );
    },
    onListenAgain: (downMs) =>
      log.warning("Accepting connections again after {down_ms} ms", {
        down_ms: downMs,
      }),
    onListen: ({ hostname, port }) => {
      const url = clickableUrl(hostname, port);
      const startupMs = Math.round(performance.now());
      // Says so when only this machine can connect (the default outside production).
      const reach = isLoopbackHost(hostname) ? "; this machine only, HOST=0.0.0.0 exposes it" : "";
      const who = worker === undefined ? "" : `, worker ${worker.index}, pid ${Deno.pid}`;
      log.info(`Listening on ${url} (${db.dialect}, started in ${startupMs} ms${reach}${who})`, {
        url,
        hostname,
        port,
        database: db.dialect,
        startup_ms: startupMs,
      });
      log.info(`API docs on ${url}/docs (Swagger UI: ${url}/docs/swagger)`, {
        docs_url: `${url}/docs`,
      });
      if (config.env === "development") {
        // The username only: the password stays where it was set (ADMIN_PASSWORD or README).
        log.info(`Development admin: ${config.admin.username}`, {
          admin_username: config.admin.username,
        });
      }
    },
  }, app.fetch);

  let stopping: Promise<void> | undefined;
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  const shutdown = (reason = "shutdown requested") => {
    stopping ??= (async () => {
      lifecycle.beginShutdown();
      log.info("Shutting down ({reason}): draining in-flight requests", { reason });
      const deadline = Date.now() + config.http.shutdownTimeoutMs;
      // Deno's server.shutdown() cuts request bodies still being uploaded: let those finish
      // first (new requests meanwhile get 503), then close the listener and drain handlers.
      await lifecycle.uploadsFinished(config.http.shutdownTimeoutMs);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = await Promise.race([
        server.shutdown().then(() => true),
        new Promise<false>((resolve) =>
          timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))
        ),
      ]);
      clearTimeout(timer);
      if (!drained) {
        log.warning("Drain limit of {ms} ms reached; closing anyway", {
          ms: config.http.shutdownTimeoutMs,
        });
      }
      await tokenPurge?.stop();
      await metricsServer?.shutdown();
      stopEventLoopMonitor();
      await deps.close();
      // The handlers stay: a second SIGTERM while the process exits (an orchestrator repeating
      // it, measured in the shutdown test under load) would otherwise kill it with 143. They
      // only call this drain again, which is done; `cli.ts` exits the process right after.
      log.info("Stopped");
      markStopped();
    })();
    return stopping;
  };

  let stopSignal: Deno.Signal | undefined;
  const signalHandlers: Array<[Deno.Signal, () => void]> = (["SIGTERM", "SIGINT"] as const).map(
    (signal) => [signal, () => {
      stopSignal ??= signal;
      void shutdown(signal);
    }],
  );
  for (const [signal, handler] of signalHandlers) Deno.addSignalListener(signal, handler);

  return {
    port: server.addr.port,
    metricsPort: metricsServer?.addr.port,
    // Past the drain limit the server may still hold a connection (an upload that never ends)
    // and never finish: the service is done once its shutdown has run all the same.
    finished: Promise.race([server.finished, stopped]).then(() => stopping),
    shutdown,
    get stopSignal() {
      return stopSignal;
    },
    releaseSignals() {
      for (const [signal, handler] of signalHandlers) {
        Deno.removeSignalListener(signal, handler);
      }
    },
  };
}
