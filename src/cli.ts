/**
 * Entry point of the `items-api` binary and of `deno task cli`: `serve` (default) and the
 * operational subcommands.
 *
 * @module
 */
import { parseArgs } from "node:util";
import denoJson from "../deno.json" with { type: "json" };
import { type Config, ConfigError, loadConfig } from "@/config.ts";
import { runTokenPurge } from "@/cron/purge-expired-tokens.ts";
import { migrate } from "@/db/migrate.ts";
import { createCommandDeps } from "@/deps.ts";
import { AppError } from "@/http/errors.ts";
import { getAppLogger, setupLogging } from "@/runtime/logger.ts";
import { startService } from "@/main.ts";
import { runPrimary } from "@/workers.ts";
import { breakGlass, type BreakGlassAction } from "@/modules/users/break-glass.ts";
import { createAdmin } from "@/modules/users/create-admin.ts";

/** The service version, from deno.json. */
export const VERSION: string = denoJson.version;

const HELP = `items-api ${VERSION}

Usage: items-api [command] [options]

Commands:
  serve          Run the HTTP service (default): migrates, then listens on HOST:PORT
                   --workers <n|auto>  processes sharing PORT (default: WORKERS, else 1)
  migrate        Apply pending database migrations and exit
  create-admin   Create an admin account:
                   --username <name>   default: ADMIN_USERNAME
                   --password-stdin    read the password from the first line of stdin
                   --password <pw>     visible to other local users; prefer --password-stdin
                 without either, ADMIN_PASSWORD is used
  purge-tokens   Delete expired sessions now (the service also does it on TOKEN_PURGE_CRON)
  deactivate-user --username <name>
                 Break glass: deactivate an account (admins included) and revoke every
                 session it has
  reactivate-user --username <name>
                 Reactivate an account (it logs in again with its password)
  revoke-sessions --username <name>
                 Log an account (admins included) out of every device
  healthcheck    Exit 0 when http://127.0.0.1:$PORT/readyz answers 200 within 2 s, else 1

Options:
  -h, --help     Show this help
  -V, --version  Show the version

Configuration comes from environment variables; see README.md.
Exit codes: 0 success, 1 failure, 2 usage error.`;

/** How long `healthcheck` waits for `/readyz`. */
const HEALTHCHECK_TIMEOUT_MS = 2_000;

/** A command line the user got wrong: exit code 2. */
class UsageError extends Error {
  override name = "UsageError";
}

type Command = (args: string[]) => Promise<number>;

/** Parse `args` strictly against `options`; unknown flags and positionals are usage errors. */
function parseFlags<T extends NonNullable<Parameters<typeof parseArgs>[0]>["options"]>(
  args: string[],
  options: T,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Load the config and set up logging, as every command that touches the database does. */
async function prepare(overrides: Record<string, string> = {}): Promise<Config> {
  const config = loadConfig(overrides);
  await setupLogging(config.log);
  return config;
}

async function readFirstLineOfStdin(): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/, 1)[0] ?? "";
}

/** The URL `healthcheck` probes: the API listener, over loopback when it binds every address. */
export function healthcheckUrl(config: Pick<Config, "http">): string {
  const { host, port } = config.http;
  let target = host;
  if (host === "" || host === "0.0.0.0" || host === "::" || host === "[::]") target = "127.0.0.1";
  else if (host.includes(":") && !host.startsWith("[")) target = `[${host}]`;
  return `http://${target}:${port}/readyz`;
}

/** A break-glass command: `<command> --username NAME`, over the database, no HTTP. */
function breakGlassCommand(action: BreakGlassAction): Command {
  return async (args) => {
    const flags = parseFlags(args, { username: { type: "string" } });
    if (flags.username === undefined || flags.username === "") {
      throw new UsageError("--username <name> is required");
    }
    const deps = await createCommandDeps(await prepare());
    try {
      const result = await breakGlass(deps, action, flags.username);
      const { user } = result;
      const who = `"${user.username}" (id ${user.id}, ${user.role})`;
      const state = user.activated ? "active" : "deactivated";
      const what = action === "revoke-sessions"
        ? `Revoked ${result.revokedSessions} session(s) of ${who}; the account is ${state}`
        : result.changed
        ? `${action === "deactivate" ? "Deactivated" : "Reactivated"} ${who}`
        : `${who} was already ${state}`;
      const revoked = action === "deactivate"
        ? `; revoked ${result.revokedSessions} session(s)`
        : "";
      console.log(`${what}${revoked}`);
      if (result.activeAdmins === 0) {
        console.error("Warning: no active admin remains; create one with create-admin");
      }
    } finally {
      await deps.close();
    }
    return 0;
  };
}

const COMMANDS: Record<string, Command> = {
  "deactivate-user": breakGlassCommand("deactivate"),
  "reactivate-user": breakGlassCommand("reactivate"),
  "revoke-sessions": breakGlassCommand("revoke-sessions"),
  serve: async (args) => {
    const flags = parseFlags(args, { workers: { type: "string" } });
    // The flag overrides WORKERS; the config checks it like the variable.
    const config = await prepare(flags.workers === undefined ? {} : { WORKERS: flags.workers });
    if (config.workers > 1 && config.worker === undefined) return await runPrimary(config);
    const service = await startService(config);
    await service.finished;
    const signal = service.stopSignal;
    if (signal && config.http.exitBySignal) {
      // EXIT_BY_SIGNAL (deno task dev): under `deno run --watch` the watcher shares this
      // process and outlives an exit, so end by the signal itself, its default action restored.
      await new Promise((resolve) => setTimeout(resolve, 20)); // the log's last batch
      service.releaseSignals();
      Deno.kill(Deno.pid, signal);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    return 0;
  },
  migrate: async (args) => {
    parseFlags(args, {});
    const deps = await createCommandDeps(await prepare());
    try {
      const { applied } = await migrate(deps.db);
      getAppLogger("migrate").info("Applied {count} migration(s): {applied}", {
        count: applied.length,
        applied: applied.join(", ") || "none pending",
      });
    } finally {
      await deps.close();
    }
    return 0;
  },
  "create-admin": async (args) => {
    const flags = parseFlags(args, {
      username: { type: "string" },
      password: { type: "string" },
      "password-stdin": { type: "boolean" },
    });
    if (flags.password !== undefined && flags["password-stdin"]) {
      throw new UsageError("Use either --password or --password-stdin, not both");
    }
    const config = await prepare();
    const username = flags.username ?? config.admin.username;
    const password = flags["password-stdin"]
      ? await readFirstLineOfStdin()
      : flags.password ?? config.admin.password;
    if (password === undefined || password === "") {
      throw new UsageError("No password: use --password-stdin, --password or ADMIN_PASSWORD");
    }
    const deps = await createCommandDeps(config, { migrate: true });
    try {
      const admin = await createAdmin(deps, username, password);
      console.log(`Created admin "${admin.username}" (id ${admin.id})`);
    } finally {
      await deps.close();
    }
    return 0;
  },
  "purge-tokens": async (args) => {
    parseFlags(args, {});
    const deps = await createCommandDeps(await prepare());
    try {
      const result = await runTokenPurge({
        ...deps,
        auditRetentionMs: deps.config.auditRetentionMs,
      });
      console.log(
        result.ran
          ? `Deleted ${result.deleted} expired session(s)`
          : "Skipped: another instance is purging right now",
      );
    } finally {
      await deps.close();
    }
    return 0;
  },
  healthcheck: async (args) => {
    parseFlags(args, {});
    // Only the listener's address is needed; no logging, no database.
    const url = healthcheckUrl(loadConfig());
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(HEALTHCHECK_TIMEOUT_MS) });
      await res.body?.cancel();
      if (res.status === 200) return 0;
      console.error(`Unhealthy: ${url} answered ${res.status}`);
    } catch (error) {
      const reason = error instanceof DOMException && error.name === "TimeoutError"
        ? `no answer within ${HEALTHCHECK_TIMEOUT_MS} ms`
        : (error as Error).message;
      console.error(`Unhealthy: ${url}: ${reason}`);
    }
    return 1;
  },
};

/** Run one command line; returns the exit code. */
export async function runCli(args: readonly string[]): Promise<number> {
  const [first = "serve", ...rest] = args;
  if (first === "-h" || first === "--help" || first === "help") {
    console.log(HELP);
    return 0;
  }
  if (first === "-V" || first === "--version") {
    console.log(VERSION);
    return 0;
  }
  const command = COMMANDS[first];
  if (!command) {
    console.error(`Unknown command "${first}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${first}: ${error.message}\n\nRun "items-api --help" for usage.`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 1;
    }
    if (error instanceof AppError) {
      // An expected refusal (a taken username, a too-short password): say why, no stack.
      const fields = (error.errors ?? []).map((e) => `\n  - ${e.path}: ${e.message}`).join("");
      console.error(`${first} failed: ${error.detail}${fields}`);
      return 1;
    }
    getAppLogger().fatal("{command} failed: {error}", { command: first, error });
    console.error(`${first} failed: ${(error as Error).message ?? error}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
