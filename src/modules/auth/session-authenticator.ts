/**
 * First-party access tokens: 43 base64url characters, looked up by their SHA-256 digest on
 * every request, so logout, deactivation and revocation act at once.
 *
 * @module
 */
import type { Database } from "@/db/database.ts";
import type { Principal } from "@/http/principal.ts";
import { recordUse, type TokenAuthenticator } from "@/middleware/authenticator.ts";
import type { Clock } from "@/runtime/clock.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { hashToken, TOKEN_PATTERN } from "@/runtime/tokens.ts";
import { findSessionByAccessHash, touchSession } from "@/modules/auth/sessions.repository.ts";

/** Options of {@link createSessionAuthenticator}. */
export interface SessionAuthenticatorOptions {
  clock: Clock;
}

/** The authenticator of first-party session tokens (`POST /auth/token`). */
export function createSessionAuthenticator(
  { clock }: SessionAuthenticatorOptions,
): TokenAuthenticator {
  const log = getAppLogger("auth");
  return {
    method: "session",
    accepts: (token) => TOKEN_PATTERN.test(token),
    async authenticate(token: string, db: Database): Promise<Principal | undefined> {
      const found = await findSessionByAccessHash(db, await hashToken(token));
      const now = clock.now();
      if (!found || !found.user.activated || found.accessExpiresAt.getTime() <= now.getTime()) {
        return undefined;
      }
      await recordUse(
        now,
        found.lastUsedAt,
        (staleBefore) => touchSession(db, found.sessionId, now, staleBefore),
        (error) =>
          log.warning("Could not record session use: {error}", {
            session_id: found.sessionId,
            error,
          }),
      );
      return {
        user: found.user,
        method: "session",
        session: { id: found.sessionId, userId: found.user.id, lastUsedAt: found.lastUsedAt },
      };
    },
  };
}
