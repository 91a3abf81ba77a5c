import { createRouter } from "@/http/router.ts";
import * as handlers from "@/modules/auth/auth.handlers.ts";
import * as routes from "@/modules/auth/auth.routes.ts";

/** `/auth/*`: login, refresh, logout and the caller's sessions (`/auth/me` is in users). */
export function createAuthRouter() {
  return createRouter()
    .openapi(routes.login, handlers.login)
    .openapi(routes.refresh, handlers.refresh)
    .openapi(routes.logout, handlers.logout)
    .openapi(routes.listSessions, handlers.listSessions)
    .openapi(routes.revokeSession, handlers.revokeSession)
    .openapi(routes.revokeOtherSessions, handlers.revokeOtherSessions);
}
