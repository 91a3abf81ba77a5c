/**
 * The username rule.
 *
 * MySQL's `utf8mb4_unicode_ci` treats `ａｄｍｉｎ` (fullwidth), `àdmin` and `ad\u200bmin` (a
 * zero-width space) as equal to `admin`. A login name outside the username rule therefore never
 * reaches the database (it cannot name an account); the login limit counts every name under its
 * folded form (`foldLoginName` in middleware/rate-limit.ts), so look-alikes share a limit.
 *
 * @module
 */

/** Usernames: 3 to 64 letters, digits, `_`, `.` or `-` (the same rule as ADMIN_USERNAME). */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,64}$/;

/** Whether `name` satisfies the username rule (so it can name an account). */
export function isUsername(name: string): boolean {
  return USERNAME_PATTERN.test(name);
}
