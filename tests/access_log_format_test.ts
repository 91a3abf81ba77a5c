/**
 * The access log's fast path (used with LOG_FORMAT=json) must write exactly the line LogTape's
 * JSON formatter writes for the record `logAccess` hands LogTape (as it does at other levels,
 * for 5xx, and with a custom sink), and its message is plain text: `POST /items 201 3.2ms`.
 */
// deno-lint-ignore no-import-prefix -- test-only: kept out of deno.json so the service never fetches it (docs/decisions.md)
import fc from "npm:fast-check@^4.10.2";
import { getJsonLinesFormatter, type LogRecord } from "@logtape/logtape";
import {
  type AccessLogRecord,
  formatAccessLogLine,
  getAppLogger,
  logAccess,
  setupLogging,
} from "@/runtime/logger.ts";
import { assertEquals } from "./helpers/assert.ts";

const format = getJsonLinesFormatter({ properties: "flatten", message: "rendered" });

const captured: LogRecord[] = [];
// A custom sink: logAccess goes through LogTape (its template parsing included), never the
// fast path.
await setupLogging({ level: "info", format: "json" }, (record) => captured.push(record));

/** The line LogTape writes for `record` logged by `logAccess` at `timestamp`. */
function viaLogTape(record: AccessLogRecord, timestamp: number): string {
  captured.length = 0;
  logAccess(getAppLogger("http"), record);
  assertEquals(captured.length, 1);
  return format({ ...captured[0]!, timestamp });
}

Deno.test("the JSON access log's message is plain text, 5xx included", () => {
  const base = {
    request_id: "r1",
    ip: "127.0.0.1",
    user_id: 1,
    version: null,
  };
  const created = { ...base, method: "POST", route: "/items", status: 201, duration_ms: 3.2 };
  assertEquals(JSON.parse(viaLogTape(created, 0)).message, "POST /items 201 3.2ms");
  assertEquals(JSON.parse(formatAccessLogLine(created, 0)).message, "POST /items 201 3.2ms");
  const failed = { ...base, method: "GET", route: "/items/:item_id", status: 500, duration_ms: 1 };
  const error = viaLogTape(failed, 0);
  assertEquals(JSON.parse(error).level, "ERROR");
  assertEquals(JSON.parse(error).message, "GET /items/:item_id 500 1ms");
  // Braces are text, not placeholders.
  const odd = { ...base, method: "GET", route: "/{x}/{{y}}", status: 404, duration_ms: 1 };
  assertEquals(JSON.parse(viaLogTape(odd, 0)).message, "GET /{x}/{{y}} 404 1ms");
});

Deno.test("formatAccessLogLine() writes the line LogTape's JSON formatter writes", () => {
  const timestamp = Date.UTC(2026, 10, 20, 12, 34, 56, 789);
  const records: AccessLogRecord[] = [
    {
      method: "GET",
      route: "/livez",
      status: 200,
      duration_ms: 0.31,
      request_id: "6a679cb4-1d3c-47b1-960d-77d4d641e731",
      ip: "127.0.0.1",
      user_id: null,
      version: null,
    },
    {
      method: "PATCH",
      route: "/items/:item_id",
      status: 422,
      duration_ms: 12,
      request_id: "client.supplied:id-1",
      ip: "2001:db8::1",
      user_id: 42,
      version: "1.0",
    },
    {
      method: "GET",
      route: "unmatched",
      status: 404,
      duration_ms: 1e-7,
      request_id: "x",
      ip: "unknown",
      user_id: 0,
      version: "0.8",
    },
    {
      method: "GET",
      route: "/items/:item_id",
      status: 200,
      duration_ms: 0.5,
      request_id: "r",
      ip: "203.0.113.1",
      user_id: 7,
      version: null,
      api_key_id: 12,
    },
  ];
  for (const record of records) {
    assertEquals(formatAccessLogLine(record, timestamp), viaLogTape(record, timestamp));
  }
});

Deno.test("formatAccessLogLine() matches LogTape for any text and any time", () => {
  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }),
    fc.constantFrom('"', "\\", "\n", "\u0000", "\u2028", "\u0085", "</script>", "{x}", "}{"),
  );
  const record = fc.record({
    method: fc.oneof(fc.constantFrom("GET", "POST", "PATCH"), text),
    route: fc.oneof(fc.constantFrom("/items/:item_id", "unmatched"), text),
    status: fc.integer({ min: 100, max: 499 }), // 5xx go through LogTape, at error level
    duration_ms: fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constant(1e-7)),
    request_id: text,
    ip: text,
    user_id: fc.option(fc.nat()),
    version: fc.option(text),
  });
  // Whole milliseconds, as Date.now() gives; some in the same second, some years apart.
  const timestamp = fc.oneof(
    fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) }),
    fc.integer({ min: Date.UTC(2026, 10, 20, 12, 0, 0), max: Date.UTC(2026, 10, 20, 12, 0, 2) }),
  );
  fc.assert(
    fc.property(record, timestamp, (r, ms) => {
      assertEquals(formatAccessLogLine(r, ms), viaLogTape(r, ms));
    }),
    { seed: 20261120, numRuns: 2000 },
  );
});
