import { defineModule } from "@/http/module.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { createApiKeysHandlers } from "@/modules/api-keys/api-keys.handlers.ts";
import * as routes from "@/modules/api-keys/api-keys.routes.ts";
import type { AuditLog } from "@/modules/audit/audit.service.ts";

/** `/auth/api-keys*`: create, list and revoke API keys. */
export const apiKeysModule = defineModule({
  name: "api-keys",
  basePaths: ["/auth/api-keys"],
  versioned: true,
  tag: {
    name: routes.TAG,
    description:
      "Long-lived keys for machine clients (`iak_…`), created from a session and shown once. " +
      "A key acts as its owner narrowed to its scopes, has its own rate limit, and cannot " +
      "manage keys, sessions or passwords.",
  },
  router: (deps: ModuleDeps & { readonly auditLog: AuditLog }) => {
    const handlers = createApiKeysHandlers(deps);
    return createAppRouter(deps)
      .openapi(routes.createApiKey, handlers.createApiKey)
      .openapi(routes.listApiKeys, handlers.listApiKeys)
      .openapi(routes.revokeApiKey, handlers.revokeApiKey);
  },
});
