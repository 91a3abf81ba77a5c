/**
 * Parse human durations such as `15m`, `2h` or `30d` into milliseconds.
 *
 * @module
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+)(ms|s|m|h|d)$/;

/**
 * Parse a duration string into milliseconds.
 *
 * @example
 * ```ts
 * parseDuration("15m"); // 900000
 * ```
 * @throws {RangeError} when the value is not a whole number followed by ms, s, m, h or d
 */
export function parseDuration(value: string): number {
  const match = DURATION.exec(value.trim());
  if (!match) {
    throw new RangeError(
      `Cannot parse duration "${value}": expected a whole number followed by ms, s, m, h or d`,
    );
  }
  const [, amount, unit] = match as unknown as [string, string, keyof typeof UNIT_MS];
  return Number(amount) * UNIT_MS[unit];
}
