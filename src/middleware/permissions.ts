/**
 * Permission middleware, declared per route after `requireAuth()`: a role, self-or-admin for a
 * user id in the path, and owner-or-admin for a resource loaded by id. Failures are 403
 * (authenticated but not allowed); without `requireAuth()` before them they answer 401.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv, AuthUser, RoleName } from "@/middleware/app-env.ts";
import {
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from "@/http/errors.ts";
import { invalidIdMessage, parseId } from "@/http/ids.ts";

/** The caller set by `requireAuth()`; 401 when the route forgot to authenticate. */
export function currentUser(c: Context<AppEnv>): AuthUser {
  const user = c.get("user");
  if (!user) throw new UnauthorizedError("Not authenticated");
  return user;
}

/**
 * Require the caller to have `role`.
 *
 * @example
 * ```ts
 * import { defineRoute } from "@/http/router.ts";
 * import { requireAuth } from "@/middleware/authenticate.ts";
 * import { requireRole } from "@/middleware/permissions.ts";
 *
 * const listUsers = defineRoute({
 *   method: "get",
 *   path: "/users",
 *   middleware: [requireAuth({ scopes: ["users:read"] }), requireRole("admin")] as const,
 *   responses: { 200: { description: "A page of users" } },
 * });
 * ```
 */
export function requireRole(role: RoleName): MiddlewareHandler<AppEnv> {
  return async function requireRole(c, next) {
    if (currentUser(c).role !== role) {
      throw new ForbiddenError(`Requires the ${role} role`);
    }
    await next();
  };
}

/**
 * Require the caller to be an admin or the user named by the path parameter `param`. A
 * non-admin asking for any other id (valid or not) gets 403, so ids cannot be probed.
 *
 * @example
 * ```ts
 * import { defineRoute } from "@/http/router.ts";
 * import { requireAuth } from "@/middleware/authenticate.ts";
 * import { requireSelfOrAdmin } from "@/middleware/permissions.ts";
 *
 * const getUser = defineRoute({
 *   method: "get",
 *   path: "/users/{user_id}",
 *   middleware: [requireAuth({ scopes: ["users:read"] }), requireSelfOrAdmin("user_id")] as const,
 *   responses: { 200: { description: "The user" } },
 * });
 * ```
 */
export function requireSelfOrAdmin(param = "user_id"): MiddlewareHandler<AppEnv> {
  return async function requireSelfOrAdmin(c, next) {
    const user = currentUser(c);
    if (user.role !== "admin" && parseId(c.req.param(param)) !== user.id) {
      throw new ForbiddenError("Not allowed to act on another user");
    }
    await next();
  };
}

/** Options of {@link requireOwnerOrAdmin}. */
export interface OwnerOrAdminOptions {
  /**
   * Loads the owner's user id of the resource with this id, or undefined when it does not
   * exist. Runs on every call, admins included.
   */
  load: (c: Context<AppEnv>, id: number) => Promise<number | undefined>;
  /** The 404 detail, e.g. "Item not found". */
  notFound: string;
  /** The path parameter holding the id; defaults to the route's only path parameter. */
  param?: string;
  /**
   * What a missing resource does: `"not-found"` (default) answers 404 here; `"continue"` lets
   * the request on, so body validation (422) comes first and the handler answers 404 — the
   * contract's order for routes with a body. A missing resource is never a 403.
   */
  whenMissing?: "not-found" | "continue";
}

/**
 * Require the caller to own the resource named by the path id, or to be an admin. A path id
 * that is not a positive integer is 422; a missing resource is 404; someone else's is 403.
 *
 * @example
 * ```ts
 * import { defineRoute } from "@/http/router.ts";
 * import { requireAuth } from "@/middleware/authenticate.ts";
 * import { requireOwnerOrAdmin } from "@/middleware/permissions.ts";
 * import { findItemOwnerId } from "@/modules/items/items.service.ts";
 *
 * const deleteItem = defineRoute({
 *   method: "delete",
 *   path: "/items/{item_id}",
 *   middleware: [
 *     requireAuth({ scopes: ["items:write"] }),
 *     requireOwnerOrAdmin({
 *       load: (c, id) => findItemOwnerId(c.get("db"), id),
 *       notFound: "Item not found",
 *     }),
 *   ] as const,
 *   responses: { 204: { description: "Deleted" } },
 * });
 * ```
 */
export function requireOwnerOrAdmin(options: OwnerOrAdminOptions): MiddlewareHandler<AppEnv> {
  return async function requireOwnerOrAdmin(c, next) {
    const user = currentUser(c);
    const params = c.req.param() as Record<string, string>;
    const name = options.param ?? Object.keys(params)[0] ?? "id";
    const id = parseId(params[name]);
    if (id === undefined) {
      throw new ValidationError([{ path: `path.${name}`, message: invalidIdMessage() }]);
    }
    const ownerId = await options.load(c, id);
    if (ownerId === undefined) {
      if (options.whenMissing === "continue") return next();
      throw new NotFoundError(options.notFound);
    }
    if (ownerId !== user.id && user.role !== "admin") {
      throw new ForbiddenError("Only the owner or an admin may do this");
    }
    await next();
  };
}
