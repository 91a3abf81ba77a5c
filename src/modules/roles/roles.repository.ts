/**
 * All SQL about roles (seeded by the first migration; read-only over HTTP).
 *
 * @module
 */
import type { Queryable } from "@/db/database.ts";

/** A role, as stored and as the API shows it. */
export interface Role {
  id: number;
  name: string;
}

/** Every role, by id. */
export async function listRoles(db: Queryable): Promise<Role[]> {
  const rows = await db.query<Role>("SELECT id, name FROM roles ORDER BY id");
  return rows.map((row) => ({ id: Number(row.id), name: row.name }));
}

/** One role by id. */
export async function findRoleById(db: Queryable, id: number): Promise<Role | undefined> {
  const rows = await db.query<Role>("SELECT id, name FROM roles WHERE id = ?", [id]);
  const row = rows[0];
  return row && { id: Number(row.id), name: row.name };
}
