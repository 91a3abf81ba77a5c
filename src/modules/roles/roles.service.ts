/**
 * Roles are read-only over HTTP (seeded by the first migration); other modules ask here
 * whether a role exists.
 *
 * @module
 */
import type { Queryable } from "@/db/database.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import { NotFoundError } from "@/http/errors.ts";
import * as repository from "@/modules/roles/roles.repository.ts";
import type { Role } from "@/modules/roles/roles.repository.ts";

/** Every role, by id. */
export function listRoles(deps: Pick<AppDeps, "db">): Promise<Role[]> {
  return repository.listRoles(deps.db);
}

/** One role; 404 when there is none with this id. */
export async function getRole(deps: Pick<AppDeps, "db">, id: number): Promise<Role> {
  const role = await repository.findRoleById(deps.db, id);
  if (!role) throw new NotFoundError("Role not found");
  return role;
}

/** One role, or undefined (for other modules' checks, inside their transaction). */
export function findRole(db: Queryable, id: number): Promise<Role | undefined> {
  return repository.findRoleById(db, id);
}
export { ROLE_IDS } from "@/modules/roles/roles.ts";
