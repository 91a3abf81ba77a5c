/**
 * The one order of audit events: by id, which follows the order they were written in. Newest
 * first unless `sort=id`; each filter has an index that ends with the id (migration 0008).
 *
 * @module
 */
export const AUDIT_SORTS = {
  id: {
    column: "audit_events.id",
    index: "PRIMARY",
  },
} as const;

/** A field `sort` may name. */
export type AuditSortField = keyof typeof AUDIT_SORTS;
