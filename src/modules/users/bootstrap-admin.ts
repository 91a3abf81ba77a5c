/**
 * Create the first admin from ADMIN_USERNAME / ADMIN_PASSWORD when no active admin exists,
 * so a fresh install can log in. Runs at startup, after migrations.
 *
 * @module
 */
import { UniqueViolationError } from "@/db/database.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { ROLE_IDS } from "@/modules/roles/roles.service.ts";
import {
  countActiveAdmins,
  findUserWithHashByUsername,
  insertUser,
} from "@/modules/users/users.repository.ts";

/** What {@link ensureBootstrapAdmin} did. */
export type BootstrapOutcome = "created" | "admin-exists" | "no-password" | "username-taken";

/** Create the bootstrap admin if needed; logs its username (never the password) once. */
export async function ensureBootstrapAdmin(
  deps: Pick<AppDeps, "config" | "db" | "clock" | "passwords">,
): Promise<BootstrapOutcome> {
  const log = getAppLogger("bootstrap");
  const { username, password } = deps.config.admin;
  if ((await countActiveAdmins(deps.db)) > 0) return "admin-exists";
  if (password === undefined) {
    log.warning("No active admin exists and ADMIN_PASSWORD is unset: run `items-api create-admin`");
    return "no-password";
  }
  if (await findUserWithHashByUsername(deps.db, username)) {
    log.warning("No active admin exists, but the username {username} belongs to another account", {
      username,
    });
    return "username-taken";
  }
  try {
    await insertUser(deps.db, {
      username,
      passwordHash: await deps.passwords.hash(password),
      roleId: ROLE_IDS.admin,
      now: deps.clock.now(),
    });
  } catch (error) {
    // Another instance created it at the same moment.
    if (error instanceof UniqueViolationError) return "admin-exists";
    throw error;
  }
  log.info("Created the bootstrap admin {username}", { username });
  return "created";
}
