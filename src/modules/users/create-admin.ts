/**
 * `createAdmin`: what the `create-admin` command does, as a function over the app's
 * dependencies, so it is tested without a process.
 *
 * @module
 */
import type { AppDeps } from "@/middleware/app-deps.ts";
import { type FieldError, ValidationError } from "@/http/errors.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import {
  isWellFormedPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  PASSWORD_NOT_WELL_FORMED,
} from "@/runtime/passwords.ts";
import { ROLE_IDS } from "@/modules/roles/roles.service.ts";
import type { User } from "@/modules/users/users.repository.ts";
import { USERNAME_PATTERN } from "@/modules/users/users.schemas.ts";
import { createUser } from "@/modules/users/users.service.ts";
import { type AuditLog, cliActor } from "@/modules/audit/audit.service.ts";

/**
 * Create an active admin account. The username follows the API's rule and the password its
 * policy (8 to 128 characters).
 *
 * @throws {ValidationError} for a bad username or password
 * @throws {ConflictError} when the username is taken
 * @example
 * ```ts
 * import { parseConfig } from "@/config.ts";
 * import { createCommandDeps } from "@/deps.ts";
 * import { createAdmin } from "@/modules/users/create-admin.ts";
 *
 * // What `deno task cli create-admin` does, here on an in-memory SQLite database.
 * const config = parseConfig({ APP_ENV: "test", DATABASE_URL: "sqlite::memory:" });
 * const deps = await createCommandDeps(config, { migrate: true });
 * try {
 *   const admin = await createAdmin(deps, "ops-admin", "a long and random passphrase");
 *   // admin.role === "admin", admin.activated === true
 * } finally {
 *   await deps.close();
 * }
 * ```
 */
export async function createAdmin(
  deps: Pick<AppDeps, "db" | "clock" | "passwords"> & { readonly auditLog?: AuditLog },
  username: string,
  password: string,
): Promise<User> {
  const errors: FieldError[] = [];
  if (!USERNAME_PATTERN.test(username)) {
    errors.push({
      path: "username",
      message: "Expected 3 to 64 letters, digits, '_', '.' or '-'",
    });
  }
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    errors.push({
      path: "password",
      message: `Expected ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
    });
  }
  if (!isWellFormedPassword(password)) {
    errors.push({ path: "password", message: PASSWORD_NOT_WELL_FORMED });
  }
  if (errors.length > 0) throw new ValidationError(errors, "Invalid admin account");
  const audit = deps.auditLog && { log: deps.auditLog, actor: cliActor("create-admin") };
  const { user } = await createUser({ ...deps, audit }, {
    username,
    roleId: ROLE_IDS.admin,
    password,
  });
  getAppLogger("users").info("Created admin {username} (id {user_id})", {
    username: user.username,
    user_id: user.id,
  });
  return user;
}
