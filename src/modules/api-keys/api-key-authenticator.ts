/**
 * API keys as bearer credentials: `iak_` + 43 base64url characters, looked up by their SHA-256
 * digest on every request (with the owner), so revocation, expiry and deactivation act at once.
 * The principal carries the key's scopes and its id (for the per-key limit, logs and metrics).
 *
 * @module
 */
import type { Database } from "@/db/database.ts";
import type { Principal } from "@/http/principal.ts";
import { recordUse, type TokenAuthenticator } from "@/middleware/authenticator.ts";
import type { Clock } from "@/runtime/clock.ts";
import type { Metrics } from "@/runtime/metrics.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { hashToken } from "@/runtime/tokens.ts";
import { findApiKeyByHash, touchApiKey } from "@/modules/api-keys/api-keys.repository.ts";
import { API_KEY_PATTERN } from "@/modules/api-keys/api-keys.service.ts";

/** Options of {@link createApiKeyAuthenticator}. */
export interface ApiKeyAuthenticatorOptions {
  clock: Clock;
  metrics: Pick<Metrics, "countApiKeyRequest">;
}

/** The authenticator of API keys; goes before the session one (which takes 43-character tokens). */
export function createApiKeyAuthenticator(
  { clock, metrics }: ApiKeyAuthenticatorOptions,
): TokenAuthenticator {
  const log = getAppLogger("auth");
  return {
    method: "api_key",
    accepts: (token) => API_KEY_PATTERN.test(token),
    async authenticate(token: string, db: Database): Promise<Principal | undefined> {
      const found = await findApiKeyByHash(db, await hashToken(token));
      const now = clock.now();
      if (!found || !found.user.activated) return undefined;
      if (found.expiresAt !== null && found.expiresAt.getTime() <= now.getTime()) return undefined;
      await recordUse(
        now,
        found.lastUsedAt,
        (staleBefore) => touchApiKey(db, found.id, now, staleBefore),
        (error) =>
          log.warning("Could not record API key use: {error}", { api_key_id: found.id, error }),
      );
      metrics.countApiKeyRequest(found.id);
      return {
        user: found.user,
        method: "api_key",
        scopes: found.scopes,
        credentialId: String(found.id),
      };
    },
  };
}
