/**
 * Every field an items list may be sorted by, and the one place it is said: its column
 * (qualified, as list statements join the FTS match set), the index serving it alone and after
 * `user_id = ?` (migrations 0001, 0003), and whether its cursor values are timestamps. The
 * `sort` query parameter, ORDER BY, cursors and the index hints all derive from it.
 *
 * @module
 */
import { type SortSpec, sortSpec } from "@/lib/pagination.ts";

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

/** The validated `sort` of an items list. */
export function itemSortSpec(sort: ItemSortKey | undefined): SortSpec {
  return sortSpec(sort, ITEM_SORTS);
}

/** The sort field a spec of {@link itemSortSpec} orders by. */
export function itemSortField(sort: SortSpec): ItemSortField {
  return sort.key.replace(/^-/, "") as ItemSortField;
}
