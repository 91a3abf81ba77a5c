/**
 * The owner of a credential (session, API key, provider identity), as every bearer lookup
 * selects it: one join of `users u` and `roles r`, mapped to {@link AuthUser}.
 *
 * @module
 */
import type { AuthUser, RoleName } from "@/http/principal.ts";

/** The SELECT list naming the owner, for a statement that joins `users u` and `roles r`. */
export const OWNER_COLUMNS =
  "u.id AS user_id, u.username, u.role_id, r.name AS role_name, u.activated";

/** The columns of {@link OWNER_COLUMNS} in a row. */
export interface OwnerRow {
  user_id: number;
  username: string;
  role_id: number;
  role_name: RoleName;
  activated: number;
}

/** The owner of a row selected with {@link OWNER_COLUMNS}. */
export function toOwner(row: OwnerRow): AuthUser {
  return {
    id: Number(row.user_id),
    username: row.username,
    roleId: Number(row.role_id),
    role: row.role_name,
    activated: Boolean(row.activated),
  };
}
