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
  type LogRecord,
  type Sink,
} from "@logtape/logtape";

/** How the process logs (LOG_LEVEL, LOG_FORMAT). */
export interface LogOptions {
  level: "debug" | "info" | "warning" | "error";
  format: "pretty" | "json";
}

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
 * import { getAppLogger, setupLogging } from "@/runtime/logger.ts";
 *
 * // The CLI and the service call `setupLogging(config.log)` once, at startup.
 * await setupLogging({ level: "info", format: "json" });
 * getAppLogger().info("Started on {port}", { port: 8080 }); // one JSON line on stdout
 * ```
 */
export async function setupLogging(options: LogOptions, sink?: Sink): Promise<void> {
  const batched = sink === undefined && options.format === "json"
    ? new BatchedJsonLines()
    : undefined;
  const console = sink ?? batched?.sink ??
    getConsoleSink({ formatter: getAnsiColorFormatter({ timestamp: "time" }) });
  // The access log skips LogTape's template parsing and generic formatter when the JSON sink
  // is in use and info is logged; the line it writes is the one LogTape would have written.
  fastAccessLog = batched && LEVEL_RANK[options.level] <= LEVEL_RANK.info
    ? (record) => batched.writeAccessLine(record)
    : undefined;
  await configure({
    reset: true,
    sinks: { console },
    loggers: [
      { category: [LOG_CATEGORY], lowestLevel: options.level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

/** One access-log line (what `requestContext` logs per request). */
export interface AccessLogRecord {
  method: string;
  route: string;
  status: number;
  duration_ms: number;
  request_id: string;
  ip: string;
  user_id: number | null;
  version: string | null;
  /** Set when an API key authenticated the request: its id, never the key. */
  api_key_id?: number;
}

/**
 * The access log's message, plain text: `POST /items 201 3.2ms` (the values also stand as
 * properties of the line). Not a template with placeholders: LogTape's JSON formatter renders
 * string values quoted, which made the message `"\"POST\" \"/items\" 201 3.2ms"`.
 */
export function accessLogMessage(r: AccessLogRecord): string {
  return `${r.method} ${r.route} ${r.status} ${r.duration_ms}ms`;
}

/**
 * `text` as a LogTape message template that renders to itself: with a `{` in it, `{` and `}`
 * doubled (LogTape takes a template without `{` as it is, `}}` included).
 */
function literalTemplate(text: string): string {
  return text.includes("{") ? text.replaceAll("{", "{{").replaceAll("}", "}}") : text;
}

let fastAccessLog: ((record: AccessLogRecord) => void) | undefined;

/**
 * Log one answered request: 5xx through LogTape at error level, the rest at info — straight
 * to the batched JSON sink when it is in use (one request, one cheap line).
 *
 * @example
 * ```ts
 * logAccess(getAppLogger("http"), {
 *   method: "GET", route: "/livez", status: 200, duration_ms: 0.4,
 *   request_id: "r1", ip: "127.0.0.1", user_id: null, version: null,
 * });
 * ```
 */
export function logAccess(logger: Logger, record: AccessLogRecord): void {
  if (record.status >= 500) {
    logger.error(literalTemplate(accessLogMessage(record)), { ...record });
  } else if (fastAccessLog) fastAccessLog(record);
  else logger.info(literalTemplate(accessLogMessage(record)), { ...record });
}

/** Printable ASCII but the quote and the backslash: text JSON writes as it is, in quotes. */
const PLAIN_JSON_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** U+007F to U+009F, which LogTape's JSON formatter writes as `\u` escapes. */
const JSON_CONTROL = /[\u007f-\u009f]/g;

/** `JSON.stringify(text)` as LogTape writes it, without its cost for the usual plain text. */
function jsonString(text: string): string {
  return PLAIN_JSON_TEXT.test(text) ? `"${text}"` : JSON.stringify(text).replace(
    JSON_CONTROL,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** `JSON.stringify(value)` of a finite number or null. */
function jsonNumber(value: number | null): string {
  return value === null || Number.isFinite(value) ? String(value) : JSON.stringify(value);
}

let cachedSecond = Number.NaN;
let cachedSecondPrefix = "";

/**
 * `new Date(ms).toISOString()`, from a prefix computed once per second: the date part is the
 * costliest piece of a line, and most lines of a busy second share it.
 */
function isoTimestamp(ms: number): string {
  const second = Math.floor(ms / 1000);
  const millis = ms - second * 1000;
  if (!Number.isInteger(millis)) return new Date(ms).toISOString();
  if (second !== cachedSecond) {
    cachedSecondPrefix = new Date(second * 1000).toISOString().slice(0, -4); // up to "."
    cachedSecond = second;
  }
  return `${cachedSecondPrefix}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
}

/**
 * The line LogTape's JSON formatter writes for an info access-log record, built directly:
 * the fields are known, and only the strings a client can influence (address, version) may
 * need escaping. A measured fast path (bench/README.md); the plain equivalent is LogTape's
 * `getJsonLinesFormatter()`.
 */
export function formatAccessLogLine(r: AccessLogRecord, timestamp: number): string {
  const status = jsonNumber(r.status);
  const duration = jsonNumber(r.duration_ms);
  const message = jsonString(accessLogMessage(r));
  return `{"@timestamp":"${isoTimestamp(timestamp)}","level":"INFO","message":${message}` +
    `,"logger":"${LOG_CATEGORY}.http","method":${jsonString(r.method)}` +
    `,"route":${jsonString(r.route)},"status":${status},"duration_ms":${duration}` +
    `,"request_id":${jsonString(r.request_id)},"ip":${jsonString(r.ip)}` +
    `,"user_id":${jsonNumber(r.user_id)}` +
    `,"version":${r.version === null ? "null" : jsonString(r.version)}` +
    `${r.api_key_id === undefined ? "" : `,"api_key_id":${jsonNumber(r.api_key_id)}`}}\n`;
}

const LEVEL_RANK = { debug: 0, info: 1, warning: 2, error: 3 } as const;
const WARNING_AND_ABOVE = new Set<LogRecord["level"]>(["warning", "error", "fatal"]);
/** Pending output beyond this is written at once rather than at the end of the turn. */
const BATCH_BYTES = 64 * 1024;

function writeAll(file: typeof Deno.stdout, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

/**
 * JSON lines (LogTape's formatter, properties flattened) to stdout, warnings and above to
 * stderr, as the console sink splits them. Info lines — the access log, one per request — are
 * batched: one write per event-loop turn instead of one console call per line, which made
 * logging the largest cost of a small request. Warnings flush the batch and are written at
 * once; whatever is pending is written when the process exits.
 */
class BatchedJsonLines {
  readonly #format = getJsonLinesFormatter({ properties: "flatten", message: "rendered" });
  readonly #encoder = new TextEncoder();
  #pending = "";
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    globalThis.addEventListener("unload", () => this.flush());
  }

  /** The LogTape sink. */
  readonly sink: Sink = (record: LogRecord) => {
    const line = this.#format(record);
    if (WARNING_AND_ABOVE.has(record.level)) {
      this.flush();
      writeAll(Deno.stderr, this.#encoder.encode(line));
    } else {
      this.#append(line);
    }
  };

  /** Write an access-log line (info). */
  writeAccessLine(record: AccessLogRecord): void {
    this.#append(formatAccessLogLine(record, Date.now()));
  }

  /** Write whatever is pending. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending === "") return;
    const bytes = this.#encoder.encode(this.#pending);
    this.#pending = "";
    writeAll(Deno.stdout, bytes);
  }

  #append(line: string): void {
    this.#pending += line;
    if (this.#pending.length >= BATCH_BYTES) this.flush();
    else if (this.#timer === undefined) {
      const timer = setTimeout(() => this.flush(), 0);
      // Never what keeps the process alive: the unload listener writes the rest.
      Deno.unrefTimer(timer as unknown as number);
      this.#timer = timer;
    }
  }
}
