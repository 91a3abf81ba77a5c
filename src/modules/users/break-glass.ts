/**
 * Break-glass account commands for operators with database access (the `deactivate-user`,
 * `reactivate-user` and `revoke-sessions` CLI commands). They act on any account, admins
 * included: the API lets no admin touch another admin, so a compromised or rogue admin can only
 * be contained from here. Each action is logged as a warning for the audit trail.
 *
 * @module
 */
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { UsersDeps } from "@/modules/users/users.service.ts";
import { type AuditLog, cliActor, recordIn } from "@/modules/audit/audit.service.ts";
import { NotFoundError, ValidationError } from "@/http/errors.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { isUsername } from "@/modules/users/usernames.ts";
import {
  countActiveAdmins,
  findUserById,
  findUserWithHashByUsername,
  updateUser,
  type User,
} from "@/modules/users/users.repository.ts";

/** What an operator can do to an account. */
export type BreakGlassAction = "deactivate" | "reactivate" | "revoke-sessions";

/** What {@link breakGlass} did. */
export interface BreakGlassResult {
  /** The account after the action. */
  user: User;
  /** Whether `activated` changed (false when it already was as asked). */
  changed: boolean;
  /** Sessions deleted (every device logged out). */
  revokedSessions: number;
  /** Active admins left afterwards (0: create one with `create-admin`). */
  activeAdmins: number;
}

async function findByName(
  deps: Pick<AppDeps, "db">,
  username: string,
): Promise<User> {
  // A name outside the rule names no account (and MySQL's collation would match look-alikes).
  if (!isUsername(username)) {
    throw new ValidationError([{
      path: "username",
      message: "Expected 3 to 64 letters, digits, '_', '.' or '-'",
    }], "Invalid username");
  }
  const found = await findUserWithHashByUsername(deps.db, username);
  if (!found) throw new NotFoundError(`No user named "${username}"`);
  const { passwordHash: _hash, ...user } = found;
  return user;
}

/**
 * Deactivate (and log out everywhere), reactivate, or log out everywhere the account named
 * `username`, whatever its role.
 *
 * @throws {ValidationError} for a name outside the username rule
 * @throws {NotFoundError} when no account has that name
 * @example
 * ```ts
 * import { parseConfig } from "@/config.ts";
 * import { createCommandDeps } from "@/deps.ts";
 * import { breakGlass } from "@/modules/users/break-glass.ts";
 * import { createAdmin } from "@/modules/users/create-admin.ts";
 *
 * // What `deno task cli deactivate-user --username rogue-admin` does, on in-memory SQLite.
 * const config = parseConfig({ APP_ENV: "test", DATABASE_URL: "sqlite::memory:" });
 * const deps = await createCommandDeps(config, { migrate: true });
 * try {
 *   await createAdmin(deps, "rogue-admin", "a long and random passphrase");
 *   const { user, revokedSessions } = await breakGlass(deps, "deactivate", "rogue-admin");
 *   // user.activated === false; revokedSessions === 0 (it had no session)
 * } finally {
 *   await deps.close();
 * }
 * ```
 */
export async function breakGlass(
  deps:
    & Pick<AppDeps, "db" | "clock">
    & Pick<UsersDeps, "credentials">
    & { readonly auditLog?: AuditLog },
  action: BreakGlassAction,
  username: string,
): Promise<BreakGlassResult> {
  const target = await findByName(deps, username);
  let changed = false;
  let revokedSessions = 0;
  const audit = deps.auditLog && { log: deps.auditLog, actor: cliActor(action) };
  await deps.db.transaction(async (tx) => {
    if (action === "deactivate" || action === "reactivate") {
      const activated = action === "reactivate";
      if (target.activated !== activated) {
        await updateUser(tx, target.id, { activated }, deps.clock.now());
        changed = true;
      }
    }
    if (action === "deactivate" || action === "revoke-sessions") {
      revokedSessions = await deps.credentials.revokeSessions(tx, target.id);
    }
    // Every break-glass command is recorded, whether or not it changed anything.
    await recordIn(tx, audit, {
      action: `break_glass.${action}`,
      targetType: "user",
      targetId: target.id,
      changes: {
        ...(changed ? { activated: { before: target.activated, after: !target.activated } } : {}),
        ...(revokedSessions > 0 ? { sessions: { before: revokedSessions, after: 0 } } : {}),
      },
    });
  });
  const user = await findUserById(deps.db, target.id);
  if (!user) throw new NotFoundError(`No user named "${username}"`);
  const activeAdmins = await countActiveAdmins(deps.db);
  getAppLogger("break-glass").warning(
    "Operator {action} of user {username} (id {user_id}, {role}): {revoked} session(s) revoked",
    {
      action,
      username: user.username,
      user_id: user.id,
      role: user.role,
      changed,
      revoked: revokedSessions,
      active_admins: activeAdmins,
    },
  );
  return { user, changed, revokedSessions, activeAdmins };
}
