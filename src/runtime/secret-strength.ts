/**
 * A cheap screen for keys nobody generated at random: `SECRET_KEY=aaaa…`, `abcabc…`,
 * `0123456789abcdef0123…`. It cannot prove a key random; it catches the obvious mistakes
 * (a placeholder typed by hand, a repeated pattern) before they pepper every password.
 *
 * @module
 */

/** Fewer distinct characters than this is refused (a random hex key has about 13 in 32). */
const MIN_DISTINCT_CHARACTERS = 8;
/** Share of neighbouring characters one code point apart (or equal) that marks a sequence. */
const MAX_SEQUENTIAL_SHARE = 0.5;

/**
 * Why `key` looks hand-made, or undefined when it passes.
 *
 * @example
 * ```ts
 * lowEntropyReason("a".repeat(32)); // "it has only 1 distinct character(s)"
 * ```
 */
export function lowEntropyReason(key: string): string | undefined {
  const chars = Array.from(key);
  const distinct = new Set(chars).size;
  if (distinct < MIN_DISTINCT_CHARACTERS) {
    return `it has only ${distinct} distinct character(s)`;
  }
  for (let period = 1; period <= chars.length / 2; period++) {
    if (chars.every((ch, i) => i < period || ch === chars[i - period])) {
      return `it repeats a ${period}-character pattern`;
    }
  }
  let sequential = 0;
  for (let i = 1; i < chars.length; i++) {
    const step = chars[i]!.codePointAt(0)! - chars[i - 1]!.codePointAt(0)!;
    if (Math.abs(step) <= 1) sequential++;
  }
  if (chars.length > 1 && sequential / (chars.length - 1) > MAX_SEQUENTIAL_SHARE) {
    return "it is mostly a run of consecutive characters";
  }
  return undefined;
}
