import { createRouter } from "@/http/router.ts";
import * as handlers from "@/modules/api-keys/api-keys.handlers.ts";
import * as routes from "@/modules/api-keys/api-keys.routes.ts";

/** `/auth/api-keys*`: create, list and revoke API keys. */
export function createApiKeysRouter() {
  return createRouter()
    .openapi(routes.createApiKey, handlers.createApiKey)
    .openapi(routes.listApiKeys, handlers.listApiKeys)
    .openapi(routes.revokeApiKey, handlers.revokeApiKey);
}
