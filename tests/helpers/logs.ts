/**
 * Capture LogTape records in memory, so tests can read what the service logged.
 *
 * @module
 */
import type { LogRecord } from "@logtape/logtape";
import { setupLogging } from "@/runtime/logger.ts";

/** Records logged since {@link captureLogs} was called. */
export const capturedLogs: LogRecord[] = [];

/** Route every log record of the process into {@link capturedLogs} (debug and above). */
export async function captureLogs(): Promise<LogRecord[]> {
  capturedLogs.length = 0;
  await setupLogging({ level: "debug", format: "json" }, (record) => {
    capturedLogs.push(record);
  });
  return capturedLogs;
}

/** Everything logged, as one string (message and properties), for "never logs X" checks. */
export function logText(records: readonly LogRecord[] = capturedLogs): string {
  return records
    .map((r) =>
      JSON.stringify(
        { message: r.message.map(String), properties: r.properties },
        (_key, value) =>
          value instanceof Error
            ? { name: value.name, message: value.message, stack: value.stack }
            : value,
      )
    )
    .join("\n");
}
