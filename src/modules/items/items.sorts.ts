/**
 * Every field an items list may be sorted by, and the one place it is said: its column
 * (qualified, as list statements join the FTS match set), the index serving it alone and after
 * `user_id = ?` (migrations 0001, 0003), and whether its cursor values are timestamps. The
 * `sort` query parameter (`sortParam`), ORDER BY, cursors (`sortSpec`) and the index hints all
 * derive from it.
 *
 * @module
 */
export const ITEM_SORTS = {
  id: {
    column: "items.id",
    index: "PRIMARY",
    ownerIndex: "items_user_id_id_idx",
  },
  name: {
    column: "items.name",
    index: "items_name_id_idx",
    ownerIndex: "items_user_id_name_unique",
  },
  created_at: {
    column: "items.created_at",
    index: "items_created_at_idx",
    ownerIndex: "items_user_id_created_at_id_idx",
    timestamp: true,
  },
  updated_at: {
    column: "items.updated_at",
    index: "items_updated_at_id_idx",
    ownerIndex: "items_user_id_updated_at_id_idx",
    timestamp: true,
  },
} as const;

/** A field `sort` may name. */
export type ItemSortField = keyof typeof ITEM_SORTS;
/** A `sort` value: a field, or a field prefixed with `-` for descending. */
export type ItemSortKey = ItemSortField | `-${ItemSortField}`;
