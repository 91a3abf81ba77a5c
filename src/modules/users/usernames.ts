/**
 * The username rule, and the form of a login name the rate limiter counts under.
 *
 * MySQL's `utf8mb4_unicode_ci` treats `ａｄｍｉｎ` (fullwidth), `àdmin` and `ad\u200bmin` (a
 * zero-width space) as equal to `admin`. A login name outside the username rule therefore never
 * reaches the database (it cannot name an account), and every login name is counted under its
 * folded form, so look-alikes share the limit of the account they imitate on both dialects.
 *
 * @module
 */

/** Usernames: 3 to 64 letters, digits, `_`, `.` or `-` (the same rule as ADMIN_USERNAME). */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,64}$/;

/** Longest folded login name kept in a limiter key. */
const MAX_KEY_NAME_LENGTH = 128;

/** Whether `name` satisfies the username rule (so it can name an account). */
export function isUsername(name: string): boolean {
  return USERNAME_PATTERN.test(name);
}

/**
 * The folded form of a login name for limiter keys: compatibility-decomposed (fullwidth and
 * other compatibility forms become their plain letters), marks and default-ignorable code points
 * (zero-width characters, joiners, variation selectors) removed, lower-cased, trimmed, bounded.
 *
 * @example
 * ```ts
 * foldLoginName("ＡＤ\u200bmìn"); // "admin"
 * ```
 */
export function foldLoginName(name: string): string {
  return name.slice(0, MAX_KEY_NAME_LENGTH * 4)
    .normalize("NFKD")
    .replace(/[\p{M}\p{Default_Ignorable_Code_Point}]/gu, "")
    .normalize("NFKC")
    .toLowerCase()
    .trim()
    .slice(0, MAX_KEY_NAME_LENGTH);
}
