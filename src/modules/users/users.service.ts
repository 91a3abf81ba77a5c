/**
 * The rules of account changes: who may change what, password checks, the last active admin,
 * and session revocation that goes with a password change or deactivation.
 *
 * @module
 */
import type { z } from "@hono/zod-openapi";
import { type Queryable, UniqueViolationError } from "@/db/database.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { AuthUser } from "@/middleware/app-env.ts";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  UnauthorizedError,
  ValidationError,
} from "@/http/errors.ts";
import { listScope, readPage, sortSpec } from "@/http/pagination.ts";
import { generatePassword } from "@/runtime/passwords.ts";
import { findRole, ROLE_IDS } from "@/modules/roles/roles.service.ts";
import * as repository from "@/modules/users/users.repository.ts";
import {
  countActiveAdmins,
  findUserById,
  findUserWithHashById,
  listUsers as findUsers,
  updateUser,
  type User,
  type UserChanges,
} from "@/modules/users/users.repository.ts";
import { isUsername } from "@/modules/users/usernames.ts";
import { type AuditContext, changedFields, recordIn } from "@/modules/audit/audit.service.ts";
import type { ListUsersQuerySchema, UserPageSchema } from "@/modules/users/users.schemas.ts";
import { USER_SORTS } from "@/modules/users/users.sorts.ts";

/** The detail of a 409 for a taken username (the reference app's wording). */
export const USERNAME_TAKEN = "Username already taken";

export type { User };
export { isUsername };

/**
 * What users calls when an account's credentials must go (deactivation, a password change,
 * break glass). Sessions and API keys depend on users, never the reverse: their modules
 * provide these operations, and the app hands them in when users is created.
 */
export interface CredentialHooks {
  /** Revoke the user's sessions, all or all but `keepSessionId`; how many were revoked. */
  revokeSessions(db: Queryable, userId: number, keepSessionId?: number): Promise<number>;
  /** Revoke the user's API keys. */
  revokeApiKeys(db: Queryable, userId: number): Promise<unknown>;
}

// The operations of users that other modules (auth, api-keys, oidc) build on.

/** A user by id, or undefined. */
export function findUser(db: Queryable, id: number): Promise<User | undefined> {
  return findUserById(db, id);
}

/** A user and their password hash by username (case-insensitive), for a login check. */
export function findUserWithHashByUsername(
  db: Queryable,
  username: string,
): Promise<(User & { passwordHash: string }) | undefined> {
  return repository.findUserWithHashByUsername(db, username);
}

/** Add an account (a provider identity's first sign-in); `UniqueViolationError` when taken. */
export function insertUser(
  db: Queryable,
  user: { username: string; passwordHash: string; roleId: number; now: Date },
): Promise<number> {
  return repository.insertUser(db, user);
}

/** Store an upgraded hash of the same password, unless it changed meanwhile. */
export function replacePasswordHash(
  db: Queryable,
  id: number,
  previousHash: string,
  newHash: string,
): Promise<boolean> {
  return repository.replacePasswordHash(db, id, previousHash, newHash);
}

/** Serialize credential changes of one user inside a transaction (its row lock on MySQL). */
export function lockUser(db: Queryable, id: number): Promise<void> {
  return repository.lockUser(db, id);
}

/** Apply account changes as they are (a provider's claims); false when there is no such user. */
export function applyUserChanges(
  db: Queryable,
  id: number,
  changes: UserChanges,
  now: Date,
): Promise<boolean> {
  return updateUser(db, id, changes, now);
}

/** The detail of every 404 about a user. */
export const USER_NOT_FOUND = "User not found";

const notFound = () => new NotFoundError(USER_NOT_FOUND);

/**
 * A check of the account as it is (an `If-Match`), run before a change; it throws to refuse
 * it. The write itself then changes the row only if it still shows what was checked.
 */
export type UserPrecondition = (current: User) => void;

/** Lock name serializing changes that could leave no active admin, across instances. */
const ADMIN_GUARD_LOCK = "items-api:last-admin-guard";
const ADMIN_GUARD_WAIT_SECONDS = 5;

/** What the users service needs besides the request's database. */
export interface UsersDeps
  extends Pick<AppDeps, "clock" | "passwords">, Partial<Pick<AppDeps, "metrics">> {
  /** The credential operations of the modules that depend on users. */
  readonly credentials: CredentialHooks;
}

type Deps = Pick<AppDeps, "db"> & UsersDeps & { readonly audit?: AuditContext };

/** What an account's representation shows that the audit trail records when it changes. */
const AUDITED_FIELDS = ["username", "role_id", "role", "activated"] as const;

/** Record the sessions a change to an account revoked along with it (none: nothing). */
function recordRevokedSessions(
  tx: Queryable,
  audit: AuditContext | undefined,
  userId: number,
  revoked: number,
  reason: "deactivated" | "password_change",
): Promise<void> {
  if (revoked === 0) return Promise.resolve();
  return recordIn(tx, audit, {
    action: "session.revoked",
    targetType: "user",
    targetId: userId,
    changes: {
      sessions: { before: revoked, after: 0 },
      reason: { before: null, after: reason },
    },
  });
}

/** The action of a change to an account, by what it changed most. */
function userAction(before: User, after: User): string {
  if (before.activated && !after.activated) return "user.deactivated";
  if (!before.activated && after.activated) return "user.reactivated";
  if (before.role !== after.role) return after.role === "admin" ? "user.promoted" : "user.demoted";
  return "user.updated";
}

async function requireRole(deps: Pick<AppDeps, "db">, roleId: number): Promise<void> {
  if (!(await findRole(deps.db, roleId))) {
    throw new ValidationError([{ path: "body.role_id", message: `Unknown role ${roleId}` }]);
  }
}

/** A created user and, when none was given, the generated password (returned once). */
export interface CreatedUser {
  user: User;
  generatedPassword?: string;
}

/** Create a user; 409 when the username is taken, 422 for an unknown role. */
export async function createUser(
  deps: Pick<AppDeps, "db" | "clock" | "passwords"> & { readonly audit?: AuditContext },
  input: { username: string; roleId: number; password?: string | undefined },
): Promise<CreatedUser> {
  await requireRole(deps, input.roleId);
  const generatedPassword = input.password === undefined ? generatePassword(20) : undefined;
  const passwordHash = await deps.passwords.hash(input.password ?? generatedPassword!);
  let user: User;
  try {
    user = await deps.db.transaction(async (tx) => {
      const id = await repository.insertUser(tx, {
        username: input.username,
        passwordHash,
        roleId: input.roleId,
        now: deps.clock.now(),
      });
      const created = await findUserById(tx, id);
      if (!created) throw new Error(`User ${id} vanished right after its insert`);
      await recordIn(tx, deps.audit, {
        action: "user.created",
        targetType: "user",
        targetId: id,
        changes: changedFields({} as Partial<User>, created, AUDITED_FIELDS),
      });
      return created;
    });
  } catch (error) {
    if (error instanceof UniqueViolationError) throw new ConflictError(USERNAME_TAKEN);
    throw error;
  }
  return generatedPassword === undefined ? { user } : { user, generatedPassword };
}

/** A PATCH /users/{id} body. */
export interface UserUpdate {
  username?: string | undefined;
  password?: string | undefined;
  current_password?: string | undefined;
  role_id?: number | undefined;
  activated?: boolean | undefined;
}

/** Throttles {@link changeUser} applies; the handler binds them to the request. */
export interface ChangeUserGuards {
  /** Before a `current_password` is verified: count it as a login attempt (429 when over). */
  passwordCheck?: () => Promise<{ succeeded(): Promise<void> }>;
  /** Before a non-admin's rename reaches the database: count it (429 when over). */
  rename?: () => Promise<void>;
  /** The client address, for the fair hash queue. */
  client?: string | undefined;
}

/** Whether `target` stops being an active admin after `changes`. */
function losesActiveAdmin(target: User, changes: UserChanges): boolean {
  if (target.role !== "admin" || !target.activated) return false;
  return (changes.roleId !== undefined && changes.roleId !== ROLE_IDS.admin) ||
    changes.activated === false;
}

/**
 * Run `write` under the cross-instance admin lock when it could remove the last active admin,
 * refusing (409) when no other active admin would remain.
 */
async function guardLastAdmin<T>(
  deps: Deps,
  target: User,
  changes: UserChanges,
  write: () => Promise<T>,
): Promise<T> {
  if (!losesActiveAdmin(target, changes)) return write();
  const locked = await deps.db.withLock(ADMIN_GUARD_LOCK, ADMIN_GUARD_WAIT_SECONDS, async () => {
    if ((await countActiveAdmins(deps.db)) <= 1) {
      throw new ConflictError(
        changes.activated === false
          ? "The last active admin cannot be deactivated"
          : "The last active admin cannot be demoted",
      );
    }
    return write();
  });
  if (!locked.acquired) throw new ConflictError("Another admin change is in progress; retry");
  return locked.value;
}

/** Admins manage user accounts and their own; another admin's account is not theirs to change. */
function assertMayChange(actor: AuthUser, target: User): void {
  if (actor.id !== target.id && target.role === "admin") {
    throw new ForbiddenError("An admin account can only be changed by its owner");
  }
}

/** One user; 404 when there is none with this id. */
export async function getUser(deps: Pick<AppDeps, "db">, id: number): Promise<User> {
  const user = await findUserById(deps.db, id);
  if (!user) throw new NotFoundError(USER_NOT_FOUND);
  return user;
}

/** A validated list query, and whether it named `page` (its default is 1). */
export type UserListRequest = z.infer<typeof ListUsersQuerySchema> & { pageGiven: boolean };

/** One page of users, as `GET /users` answers it. */
export type UserPage = z.infer<typeof UserPageSchema>;

/** One page of users; 422 for a foreign or tampered cursor. */
export async function listUsers(
  deps: Pick<AppDeps, "db" | "config">,
  request: UserListRequest,
): Promise<UserPage> {
  const sort = sortSpec(request.sort, USER_SORTS);
  const scope = listScope("users", sort, {
    username: request.username,
    activated: request.activated,
    role_id: request.role_id,
  });
  const { rows, ...page } = await readPage({
    secretKey: deps.config.auth.secretKey,
    scope,
    request,
    read: (window) =>
      findUsers(deps.db, {
        username: request.username,
        activated: request.activated,
        roleId: request.role_id,
        sort,
        window,
        limit: request.limit,
        serverTimeoutMs: deps.config.database.listQueryTimeoutMs,
      }),
  });
  return { ...page, users: rows };
}

/**
 * The caller's own account (`GET /auth/me`); 401 when it was deleted since its credential was
 * checked.
 */
export async function getOwnAccount(deps: Pick<AppDeps, "db">, caller: AuthUser): Promise<User> {
  const user = await findUserById(deps.db, caller.id);
  if (!user) throw new UnauthorizedError("Invalid or expired access token");
  return user;
}

/**
 * Apply a PATCH. Only admins change `role_id` and `activated`; a password change by the user
 * needs `current_password` and revokes their other sessions (all sessions when an admin resets
 * it); deactivation revokes every session.
 */
export async function changeUser(
  deps: Deps,
  actor: AuthUser,
  actorSessionId: number | undefined,
  targetId: number,
  update: UserUpdate,
  guards: ChangeUserGuards = {},
  precondition?: UserPrecondition,
): Promise<User> {
  const isAdmin = actor.role === "admin";
  const self = actor.id === targetId;
  if (!isAdmin && (update.role_id !== undefined || update.activated !== undefined)) {
    throw new ForbiddenError("Only admins may change role_id or activated");
  }
  if (update.current_password !== undefined && update.password === undefined) {
    throw new ValidationError([{
      path: "body.current_password",
      message: "Only allowed together with password",
    }]);
  }
  if (self && update.password !== undefined && update.current_password === undefined) {
    throw new ValidationError([{
      path: "body.current_password",
      message: "Required to change your own password",
    }]);
  }
  if (update.role_id !== undefined) await requireRole(deps, update.role_id);

  const target = await getUser(deps, targetId);
  assertMayChange(actor, target);
  precondition?.(target);

  const changes: UserChanges = {};
  if (update.username !== undefined && update.username !== target.username) {
    changes.username = update.username;
  }
  if (update.role_id !== undefined && update.role_id !== target.role_id) {
    changes.roleId = update.role_id;
  }
  if (update.activated !== undefined && update.activated !== target.activated) {
    changes.activated = update.activated;
  }
  // A 409 would tell a user which names exist: their renames are counted (admins list users).
  if (changes.username !== undefined && !isAdmin) await guards.rename?.();
  if (update.password !== undefined) {
    if (self) {
      // Counted before it is verified, like a login: a stolen access token is no oracle.
      const attempt = await guards.passwordCheck?.();
      const stored = await findUserWithHashById(deps.db, targetId);
      const check = stored &&
        await deps.passwords.verify(update.current_password!, stored.passwordHash, {
          client: guards.client,
        });
      if (!check?.valid) throw new ForbiddenError("Current password is incorrect");
      await attempt?.succeeded();
    }
    changes.passwordHash = await deps.passwords.hash(update.password);
  }
  if (Object.keys(changes).length === 0) return target;

  // The change, the credentials it revokes and its audit events: one transaction.
  const { user, revoked, reason } = await guardLastAdmin(
    deps,
    target,
    changes,
    () =>
      deps.db.transaction(async (tx) => {
        try {
          const expected = precondition ? target : undefined;
          const updated = await updateUser(tx, targetId, changes, deps.clock.now(), expected);
          if (!updated) throw precondition ? new PreconditionFailedError() : notFound();
        } catch (error) {
          if (error instanceof UniqueViolationError) throw new ConflictError(USERNAME_TAKEN);
          throw error;
        }
        const after = await findUserById(tx, targetId);
        if (!after) throw notFound();
        const fields = changedFields(target, after, AUDITED_FIELDS);
        if (Object.keys(fields).length > 0) {
          await recordIn(tx, deps.audit, {
            action: userAction(target, after),
            targetType: "user",
            targetId,
            changes: fields,
          });
        }
        if (changes.passwordHash !== undefined) {
          // Never the password or its hash: only that it changed.
          await recordIn(tx, deps.audit, {
            action: "user.password_changed",
            targetType: "user",
            targetId,
          });
        }
        let revoked = 0;
        let reason: "deactivated" | "password_change" | undefined;
        if (changes.activated === false) {
          reason = "deactivated";
          revoked = await deps.credentials.revokeSessions(tx, targetId);
          // The keys already fail with the account (the lookup checks it); reactivation gets
          // none back.
          await deps.credentials.revokeApiKeys(tx, targetId);
        } else if (changes.passwordHash !== undefined) {
          // The user keeps the session they changed it from; an admin reset logs the user out.
          reason = "password_change";
          revoked = await deps.credentials.revokeSessions(
            tx,
            targetId,
            self ? actorSessionId : undefined,
          );
        }
        if (reason) await recordRevokedSessions(tx, deps.audit, targetId, revoked, reason);
        return { user: after, revoked, reason };
      }),
  );
  if (reason) deps.metrics?.authSessionsRevoked.inc({ reason }, revoked);
  return user;
}

/** DELETE /users/{id}: deactivate the account and revoke every session (idempotent). */
export async function deactivateUser(
  deps: Deps,
  actor: AuthUser,
  targetId: number,
  precondition?: UserPrecondition,
): Promise<void> {
  const target = await getUser(deps, targetId);
  assertMayChange(actor, target);
  precondition?.(target);
  const changes: UserChanges = { activated: false };
  const deactivate = () =>
    deps.db.transaction(async (tx) => {
      if (target.activated) {
        const expected = precondition ? target : undefined;
        if (!(await updateUser(tx, targetId, changes, deps.clock.now(), expected))) {
          throw precondition ? new PreconditionFailedError() : notFound();
        }
        await recordIn(tx, deps.audit, {
          action: "user.deactivated",
          targetType: "user",
          targetId,
          changes: { activated: { before: true, after: false } },
        });
      }
      const revoked = await deps.credentials.revokeSessions(tx, targetId);
      await deps.credentials.revokeApiKeys(tx, targetId);
      await recordRevokedSessions(tx, deps.audit, targetId, revoked, "deactivated");
      return revoked;
    });
  const revoked = target.activated
    ? await guardLastAdmin(deps, target, changes, deactivate)
    : await deactivate();
  deps.metrics?.authSessionsRevoked.inc({ reason: "deactivated" }, revoked);
}
