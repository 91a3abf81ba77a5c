/**
 * `Deno.serve` that survives the end of its accept loop. When the process runs out of file
 * descriptors (EMFILE, ENFILE), Deno's accept loop stops: `server.finished` rejects and the
 * listening socket is closed, while the connections already accepted keep being served
 * (measured with Deno 2.9.6; see README, "Connections and descriptors"). Left alone, the
 * process would never accept again. Here the failed listener is drained instead — its
 * in-flight requests finish, and its idle and half-sent connections (the usual cause of the
 * exhaustion) are closed at once, which frees their descriptors — and a new listener is
 * bound on the same address, retried until descriptors are free again.
 *
 * @module
 */

/** Options of {@link serveResilient}. */
export interface ResilientServeOptions {
  hostname: string;
  port: number;
  /** Share the port with other processes (SO_REUSEPORT; Linux balances connections). */
  reusePort?: boolean;
  /** Called once, when the first listener is bound. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** Time between two attempts to listen again. Default 250 ms. */
  retryMs?: number;
  /** Waited for (bounded by its own logic) before a failed listener's connections are drained. */
  beforeDrain?: () => Promise<unknown>;
  /** The accept loop stopped; `error` says why. Called at most once per `reportIntervalMs`. */
  onAcceptStopped?: (error: unknown, occurrences: number) => void;
  /** Listening again after `downMs` without a listener. */
  onListenAgain?: (downMs: number) => void;
  /** Least time between two `onAcceptStopped` calls. Default 10 s. */
  reportIntervalMs?: number;
}

/** A server started by {@link serveResilient}. */
export interface ResilientServer {
  /** The address of the first listener; every later one binds the same. */
  readonly addr: Deno.NetAddr;
  /** How often the accept loop stopped and a new listener was bound. */
  readonly restarts: number;
  /** Resolves once {@link shutdown} has drained every listener. */
  readonly finished: Promise<void>;
  /** No new connections; in-flight requests finish; idle connections close. */
  shutdown(): Promise<void>;
}

/**
 * Serve `handler` on `hostname:port`, binding again whenever the accept loop stops. The first
 * bind throws as `Deno.serve` does (a taken port is a startup error); later ones are retried.
 *
 * @example
 * ```ts
 * import { serveResilient } from "@/runtime/resilient-server.ts";
 *
 * // Port 0: any free port; `server.addr` says which.
 * const server = serveResilient({ hostname: "127.0.0.1", port: 0 }, () => new Response("ok"));
 * try {
 *   const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 *   await res.text(); // "ok"
 * } finally {
 *   await server.shutdown();
 * }
 * ```
 */
export function serveResilient(
  options: ResilientServeOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): ResilientServer {
  const retryMs = options.retryMs ?? 250;
  const reportIntervalMs = options.reportIntervalMs ?? 10_000;
  const servers = new Set<Deno.HttpServer<Deno.NetAddr>>();
  let stopping = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let restarts = 0;
  let lastReport = -Infinity;
  let unreported = 0;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));

  const listen = (port: number, onListen: (addr: Deno.NetAddr) => void) => {
    const server = Deno.serve({
      hostname: options.hostname,
      port,
      reusePort: options.reusePort ?? false,
      onListen,
    }, handler);
    servers.add(server);
    server.finished.then(
      () => servers.delete(server),
      (error) => acceptStopped(server, error),
    );
    return server;
  };

  const first = listen(options.port, options.onListen ?? (() => {}));
  const addr = first.addr;

  function acceptStopped(server: Deno.HttpServer<Deno.NetAddr>, error: unknown): void {
    if (stopping) {
      servers.delete(server);
      return;
    }
    unreported++;
    const now = performance.now();
    if (now - lastReport >= reportIntervalMs) {
      options.onAcceptStopped?.(error, unreported);
      lastReport = now;
      unreported = 0;
    }
    void drain(server);
    // Not at once: the closed listener freed one descriptor, which the new one would take
    // only to fail again; meanwhile the drain frees the idle connections' descriptors.
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => relisten(now), retryMs);
  }

  async function drain(server: Deno.HttpServer<Deno.NetAddr>): Promise<void> {
    await options.beforeDrain?.();
    try {
      await server.shutdown();
    } catch {
      // already closed
    }
    servers.delete(server);
  }

  function relisten(downSince: number): void {
    if (stopping) return;
    try {
      listen(addr.port, () => {});
      restarts++;
      options.onListenAgain?.(Math.round(performance.now() - downSince));
    } catch {
      // Still no descriptor for a socket (or the port is briefly taken): try again shortly.
      retryTimer = setTimeout(() => relisten(downSince), retryMs);
    }
  }

  return {
    addr,
    get restarts() {
      return restarts;
    },
    finished,
    async shutdown() {
      stopping = true;
      clearTimeout(retryTimer);
      await Promise.all([...servers].map((server) => server.shutdown().catch(() => {})));
      servers.clear();
      resolveFinished();
    },
  };
}
