/**
 * Run the real service as a child process (`deno run src/cli.ts serve`) on a free port.
 *
 * @module
 */

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A child process whose output is collected, stopped with {@link BackgroundProcess.stop}. */
export interface BackgroundProcess {
  child: Deno.ChildProcess;
  output(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /** Send `signal` and wait for the exit (SIGKILL after `graceMs`). */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Start a long-running tool (nginx, prometheus) in the background. */
export function startBackground(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; clearEnv?: boolean; cwd?: string } = {},
): BackgroundProcess {
  const child = new Deno.Command(command, {
    args: [...args],
    env: options.env,
    clearEnv: options.clearEnv ?? false,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let done = false;
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const status = child.status.then(async (s) => {
    done = true;
    await pumps;
    return s;
  });
  return {
    child,
    output: () => text,
    exited: () => done,
    stop: async (signal = "SIGTERM", graceMs = 10_000) => {
      if (!done) {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, graceMs);
      const s = await status;
      clearTimeout(timer);
      return s;
    },
  };
}

/** A service process started by {@link startServiceProcess}. */
export interface ServiceProcess {
  port: number;
  baseUrl: string;
  child: Deno.ChildProcess;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** SIGTERM and wait (kills with SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/**
 * Start `src/cli.ts serve` with `env` and wait until `/livez` answers.
 *
 * @example
 * ```ts
 * const service = await startServiceProcess({ DATABASE_URL: "sqlite::memory:" });
 * ```
 */
export async function startServiceProcess(
  env: Record<string, string>,
  options: { timeoutMs?: number; args?: string[]; nofileLimit?: number } = {},
): Promise<ServiceProcess> {
  const port = Number(env.PORT ?? freePort());
  const denoArgs = ["run", "-A", "src/cli.ts", ...(options.args ?? ["serve"])];
  // `ulimit -n` in a shell that then becomes the service: the limit applies to it alone.
  const [command, args] = options.nofileLimit === undefined
    ? [Deno.execPath(), denoArgs]
    : ["bash", [
      "-c",
      `ulimit -n ${options.nofileLimit}; exec "$0" "$@"`,
      Deno.execPath(),
      ...denoArgs,
    ]];
  const process = startBackground(command, args, {
    env: {
      APP_ENV: "test",
      HOST: "127.0.0.1",
      METRICS_PORT: "0",
      LOG_FORMAT: "json",
      SECRET_KEY: "test-secret-key-that-is-at-least-32-characters",
      ADMIN_PASSWORD: "admin-password-for-tests",
      // Limits out of the way (load and outage tests); rate-limit tests set their own.
      RATE_LIMIT_API_MAX: "100000000",
      RATE_LIMIT_LOGIN_MAX: "1000000",
      RATE_LIMIT_LOGIN_IP_MAX: "1000000",
      ...env,
      PORT: String(port),
    },
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (process.exited()) {
      throw new Error(`Service exited before it was ready:\n${process.output()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/livez`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await process.stop("SIGKILL");
      throw new Error(`Service did not become ready:\n${process.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    baseUrl,
    child: process.child,
    output: process.output,
    stop: (graceMs = 15_000) => process.stop("SIGTERM", graceMs),
  };
}
