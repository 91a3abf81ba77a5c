/**
 * The roles the first migration seeds. They never change, so code names them by these
 * constants rather than looking them up.
 *
 * @module
 */

/** Role names, as seeded by the first migration. */
export type RoleName = "admin" | "user";

/** Ids of the seeded roles. */
export const ROLE_IDS: Readonly<Record<RoleName, number>> = { admin: 1, user: 2 };
