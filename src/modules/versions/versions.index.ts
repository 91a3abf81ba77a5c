import { createRouter } from "@/http/router.ts";
import * as handlers from "@/modules/versions/versions.handlers.ts";
import * as routes from "@/modules/versions/versions.routes.ts";

/** `/versions`: the public list of client versions and their administration. */
export function createVersionsRouter() {
  return createRouter()
    .openapi(routes.listVersions, handlers.listVersions)
    .openapi(routes.createVersion, handlers.createVersion)
    .openapi(routes.updateVersion, handlers.updateVersion);
}
