/**
 * The one rule for an id in a path or a query: a positive decimal integer — no sign, leading
 * zero, hex, exponent, fraction or space — within the range of its column. Every `{…_id}`
 * path parameter, every id filter and the permission middleware use it, so `/users/0x1`,
 * `/items/1e0` and `/auth/sessions/%201` are all the same 422.
 *
 * @example
 * ```ts
 * import { parseId, SERIAL_MAX } from "@/http/ids.ts";
 *
 * parseId("42"); // 42
 * parseId("042"); // undefined
 * parseId(String(SERIAL_MAX + 1)); // undefined
 * ```
 *
 * @module
 */
import { z } from "@hono/zod-openapi";

/** Largest id of an `INT UNSIGNED` column (users, items, roles, versions). */
export const SERIAL_MAX = 4_294_967_295;
/** Largest id of a `BIGINT UNSIGNED` column that JSON numbers carry exactly (sessions). */
export const BIG_SERIAL_MAX = Number.MAX_SAFE_INTEGER;

/** At most 16 digits: enough for {@link BIG_SERIAL_MAX}, and no unbounded parse. */
const DECIMAL_ID = /^[1-9][0-9]{0,15}$/;

/** The message of every id that breaks the rule. */
export function invalidIdMessage(max: number = SERIAL_MAX): string {
  return `Expected a positive integer of at most ${max}, without sign, leading zeros or exponent`;
}

/** The id `value` spells under the rule, or undefined. */
export function parseId(value: string | undefined, max: number = SERIAL_MAX): number | undefined {
  if (value === undefined || !DECIMAL_ID.test(value)) return undefined;
  const id = Number(value);
  return id <= max ? id : undefined;
}

/** Options of {@link idParam}. */
export interface IdParamOptions {
  /** Where the id is read from. */
  in: "path" | "query";
  /** The largest id of its column; {@link SERIAL_MAX} by default. */
  max?: number;
  description?: string;
}

/**
 * The schema of an id parameter named `name`: validates the raw text by the rule and yields
 * a number; documented as an `integer` with the bounds it enforces.
 */
export function idParam(name: string, options: IdParamOptions) {
  const max = options.max ?? SERIAL_MAX;
  return z.string()
    .transform((value, ctx) => {
      const id = parseId(value, max);
      if (id === undefined) {
        ctx.addIssue({ code: "custom", message: invalidIdMessage(max) });
        return z.NEVER;
      }
      return id;
    })
    .openapi({
      param: { name, in: options.in },
      type: "integer",
      minimum: 1,
      maximum: max,
      ...(options.description ? { description: options.description } : {}),
    });
}
