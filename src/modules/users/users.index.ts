import { createRouter } from "@/http/router.ts";
import * as handlers from "@/modules/users/users.handlers.ts";
import * as routes from "@/modules/users/users.routes.ts";

/** `/users`, `/users/{user_id}`, and the caller's own account at `/auth/me`. */
export function createUsersRouter() {
  return createRouter()
    .openapi(routes.me, handlers.me)
    .openapi(routes.createUser, handlers.createUser)
    .openapi(routes.listUsers, handlers.listUsers)
    .openapi(routes.getUser, handlers.getUser)
    .openapi(routes.updateUser, handlers.updateUser)
    .openapi(routes.deleteUser, handlers.deleteUser);
}
