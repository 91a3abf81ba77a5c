/**
 * The one schema for instants a client sends. Both databases must be able to store what it
 * accepts: MySQL's `DATETIME` ends at 9999-12-31 23:59:59 UTC, and an ISO string past year 9999
 * (`+010000-…`) would no longer sort as text in SQLite. The bound applies after conversion to
 * UTC, so `9999-12-31T23:59:59-01:00` (10000-01-01 in UTC) is refused.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";

/** Earliest instant accepted (the epoch: version dates are never older). */
export const MIN_INSTANT_MS = 0;
/** Latest instant accepted: the last millisecond MySQL's `DATETIME(3)` can hold. */
export const MAX_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Whether `ms` (epoch milliseconds) is an instant both databases store. */
export function isStorableInstant(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS;
}

/**
 * An ISO 8601 instant with an explicit offset (`2026-06-30T00:00:00Z`,
 * `2026-06-30T02:00:00+02:00`), from 1970 to the end of 9999 in UTC, as a Date.
 *
 * @example
 * ```ts
 * import { z } from "@hono/zod-openapi";
 *
 * const Body = z.strictObject({ sunset_at: instantSchema().nullable() });
 * ```
 */
export function instantSchema() {
  return z.iso.datetime({ offset: true }).max(64)
    .refine((value) => Date.parse(value) >= MIN_INSTANT_MS, "Expected a date from 1970 on")
    .refine(
      (value) => Date.parse(value) <= MAX_INSTANT_MS,
      "Expected a date before the year 10000 in UTC",
    )
    .transform((value) => new Date(value))
    .openapi({ example: "2026-06-30T00:00:00Z" });
}
