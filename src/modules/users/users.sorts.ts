/**
 * Every field a users list may be sorted by, and the one place it is said: its column, the
 * index serving it alone, after `role_id = ?` and after `activated = ?` (migrations 0001,
 * 0003), and how its values order. The `sort` query parameter, ORDER BY, cursors and the
 * index hints all derive from it.
 *
 * @module
 */
export const USER_SORTS = {
  id: {
    column: "u.id",
    index: "PRIMARY",
    roleIndex: "users_role_id_idx",
    activatedIndex: "users_activated_id_idx",
  },
  username: {
    column: "u.username",
    index: "users_username_unique",
    roleIndex: "users_role_id_username_idx",
    activatedIndex: "users_activated_username_idx",
    unique: true,
  },
  created_at: {
    column: "u.created_at",
    index: "users_created_at_id_idx",
    roleIndex: "users_role_id_created_at_id_idx",
    activatedIndex: "users_activated_created_at_id_idx",
    timestamp: true,
  },
} as const;

/** A field `sort` may name. */
export type UserSortField = keyof typeof USER_SORTS;
/** A `sort` value: a field, or a field prefixed with `-` for descending. */
export type UserSortKey = UserSortField | `-${UserSortField}`;
