import type { Context } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";
import { auditActorOf, type AuditLog } from "@/modules/audit/audit.service.ts";
import type { AppRouteHandler } from "@/middleware/app-router.ts";
import type {
  CreateApiKeyRoute,
  ListApiKeysRoute,
  RevokeApiKeyRoute,
} from "@/modules/api-keys/api-keys.routes.ts";
import * as service from "@/modules/api-keys/api-keys.service.ts";

/** The handlers of `/auth/api-keys*`. */
export function createApiKeysHandlers(
  deps: service.ApiKeysDeps & { readonly auditLog: AuditLog },
) {
  /** The request's database, and its audit context for the changes it makes. */
  const withRequest = <E extends AppEnv>(c: Context<E>) => ({
    ...deps,
    db: c.get("db"),
    audit: { log: deps.auditLog, actor: auditActorOf(c) },
  });

  const createApiKey: AppRouteHandler<CreateApiKeyRoute> = async (c) => {
    const body = c.req.valid("json");
    const { apiKey, key } = await service.createApiKey(
      withRequest(c),
      c.get("user"),
      {
        name: body.name,
        scopes: body.scopes,
        expiresAt: body.expires_at,
      },
    );
    c.header("Location", `/auth/api-keys/${apiKey.id}`);
    // The one response that carries the key: never stored by a cache.
    c.header("Cache-Control", "no-store");
    return c.json({ ...apiKey, key }, 201);
  };

  const listApiKeys: AppRouteHandler<ListApiKeysRoute> = async (c) => {
    const { user_id } = c.req.valid("query");
    return c.json(
      await service.listApiKeys(withRequest(c), c.get("user"), user_id),
      200,
    );
  };

  const revokeApiKey: AppRouteHandler<RevokeApiKeyRoute> = async (c) => {
    const { key_id } = c.req.valid("param");
    await service.revokeApiKey(withRequest(c), c.get("user"), key_id);
    return c.body(null, 204);
  };

  return { createApiKey, listApiKeys, revokeApiKey };
}
