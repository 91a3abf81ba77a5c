import { defineModule } from "@/http/module.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { createUsersHandlers } from "@/modules/users/users.handlers.ts";
import * as routes from "@/modules/users/users.routes.ts";
import type { UsersDeps } from "@/modules/users/users.service.ts";
import type { AuditLog } from "@/modules/audit/audit.service.ts";

/** `/users`, `/users/{user_id}`, and the caller's own account at `/auth/me`. */
export const usersModule = defineModule({
  name: "users",
  basePaths: ["/users", "/auth/me"],
  versioned: true,
  tag: {
    name: routes.TAG,
    description:
      "Accounts. Admins manage every account; a user reads and edits their own (username and " +
      "password). Deleting deactivates the account and revokes its sessions.",
  },
  scopes: {
    "users:read": {
      description: "Read users (self, or any as an admin)",
      roles: ["admin", "user"],
    },
    "users:write": {
      description: "Create, change and deactivate users (self, or any as an admin)",
      roles: ["admin", "user"],
    },
  },
  router: (deps: ModuleDeps & UsersDeps & { readonly auditLog: AuditLog }) => {
    const handlers = createUsersHandlers(deps);
    return createAppRouter(deps)
      .openapi(routes.me, handlers.me)
      .openapi(routes.createUser, handlers.createUser)
      .openapi(routes.listUsers, handlers.listUsers)
      .openapi(routes.getUser, handlers.getUser)
      .openapi(routes.updateUser, handlers.updateUser)
      .openapi(routes.deleteUser, handlers.deleteUser);
  },
});
