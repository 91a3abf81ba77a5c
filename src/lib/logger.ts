/**
 * Structured logging with LogTape: JSON lines outside development, colored text in it.
 * Categories start with `items-api`; `getAppLogger("http")` is the access log.
 *
 * @module
 */
import {
  configure,
  getAnsiColorFormatter,
  getConsoleSink,
  getJsonLinesFormatter,
  getLogger,
  type Logger,
  type Sink,
} from "@logtape/logtape";
import type { Config } from "@/config.ts";

/** Root category of every logger of the service. */
export const LOG_CATEGORY = "items-api";

/** A logger below the service's root category, e.g. `getAppLogger("http")`. */
export function getAppLogger(...subcategory: string[]): Logger {
  return getLogger([LOG_CATEGORY, ...subcategory]);
}

/**
 * Configure LogTape once per process. `sink` replaces the console (tests capture records).
 *
 * @example
 * ```ts
 * await setupLogging({ level: "info", format: "json" });
 * getAppLogger().info("Started on {port}", { port: 8080 });
 * ```
 */
export async function setupLogging(options: Config["log"], sink?: Sink): Promise<void> {
  const console = sink ?? getConsoleSink({
    formatter: options.format === "json"
      ? getJsonLinesFormatter({ properties: "flatten", message: "rendered" })
      : getAnsiColorFormatter({ timestamp: "time" }),
  });
  await configure({
    reset: true,
    sinks: { console },
    loggers: [
      { category: [LOG_CATEGORY], lowestLevel: options.level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
