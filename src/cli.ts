/**
 * Entry point of the `items-api` binary and of `deno task cli`: `serve` (default) and the
 * operational subcommands.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import { ConfigError, loadConfig } from "@/config.ts";
import { migrate } from "@/db/migrate.ts";
import { openDatabase } from "@/db/open.ts";
import { getAppLogger, setupLogging } from "@/lib/logger.ts";
import { startService } from "@/main.ts";

/** The service version, from deno.json. */
export const VERSION: string = denoJson.version;

const HELP = `items-api ${VERSION}

Usage: items-api [command]

Commands:
  serve      Run the HTTP service (default): migrates, then listens on HOST:PORT
  migrate    Apply pending database migrations and exit

Options:
  -h, --help     Show this help
  -V, --version  Show the version

Configuration comes from environment variables; see README.md.`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  serve: async () => {
    const config = loadConfig();
    await setupLogging(config.log);
    const service = await startService(config);
    await service.finished;
    return 0;
  },
  migrate: async () => {
    const config = loadConfig();
    await setupLogging(config.log);
    const db = openDatabase(config.database);
    try {
      const { applied } = await migrate(db);
      getAppLogger("migrate").info("Applied {count} migration(s): {applied}", {
        count: applied.length,
        applied: applied.join(", ") || "none pending",
      });
    } finally {
      await db.close();
    }
    return 0;
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
    if (error instanceof ConfigError) {
      console.error(error.message);
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
