/**
 * The access log's fast path (used with LOG_FORMAT=json) must write exactly the line LogTape's
 * JSON formatter would have written for the same record.
 */
import fc from "fast-check";
import { getJsonLinesFormatter, type LogRecord } from "@logtape/logtape";
import { type AccessLogRecord, formatAccessLogLine, LOG_CATEGORY } from "@/runtime/logger.ts";
import { assertEquals } from "./helpers/assert.ts";

const format = getJsonLinesFormatter({ properties: "flatten", message: "rendered" });

function viaLogTape(record: AccessLogRecord, timestamp: number): string {
  const logRecord: LogRecord = {
    category: [LOG_CATEGORY, "http"],
    level: "info",
    rawMessage: "{method} {route} {status} {duration_ms}ms",
    message: [
      "",
      record.method,
      " ",
      record.route,
      " ",
      record.status,
      " ",
      record.duration_ms,
      "ms",
    ],
    properties: { ...record },
    timestamp,
  };
  return format(logRecord);
}

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
    fc.constantFrom('"', "\\", "\n", "\u0000", "\u2028", "</script>"),
  );
  const record = fc.record({
    method: fc.oneof(fc.constantFrom("GET", "POST", "PATCH"), text),
    route: fc.oneof(fc.constantFrom("/items/:item_id", "unmatched"), text),
    status: fc.integer({ min: 100, max: 599 }),
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
