import { defineModule } from "@/http/module.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { createAuthHandlers } from "@/modules/auth/auth.handlers.ts";
import * as routes from "@/modules/auth/auth.routes.ts";
import type { AuditLog } from "@/modules/audit/audit.service.ts";

/** `/auth/*`: login, refresh, logout and the caller's sessions (`/auth/me` is in users). */
export const authModule = defineModule({
  name: "auth",
  basePaths: ["/auth"],
  versioned: true,
  tag: {
    name: routes.TAG,
    description:
      "Log in with a username and password for an access token (short-lived) and a refresh " +
      "token (long-lived, rotated on every use; presenting a used one revokes the session). " +
      "Send the access token as `Authorization: Bearer <token>`. Each login is a session " +
      "(device) the user can list and revoke.",
  },
  router: (deps: ModuleDeps & { readonly auditLog: AuditLog }) => {
    const handlers = createAuthHandlers(deps);
    return createAppRouter(deps)
      .openapi(routes.login, handlers.login)
      .openapi(routes.refresh, handlers.refresh)
      .openapi(routes.logout, handlers.logout)
      .openapi(routes.listSessions, handlers.listSessions)
      .openapi(routes.revokeSession, handlers.revokeSession)
      .openapi(routes.revokeOtherSessions, handlers.revokeOtherSessions);
  },
});
