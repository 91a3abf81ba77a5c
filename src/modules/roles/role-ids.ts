/** Ids of the roles the first migration seeds; they never change. */
export const ROLE_IDS = { admin: 1, user: 2 } as const;
