import { createRouter } from "@/lib/router.ts";
import * as handlers from "@/modules/users/users.handlers.ts";
import * as routes from "@/modules/users/users.routes.ts";

/** `/users` and `/users/{user_id}`. */
export function createUsersRouter() {
  return createRouter()
    .openapi(routes.createUser, handlers.createUser)
    .openapi(routes.listUsers, handlers.listUsers)
    .openapi(routes.getUser, handlers.getUser)
    .openapi(routes.updateUser, handlers.updateUser)
    .openapi(routes.deleteUser, handlers.deleteUser);
}
