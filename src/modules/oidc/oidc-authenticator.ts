/**
 * Access tokens from the configured OpenID Connect provider (signed JWTs) as bearer
 * credentials. Only tokens of JWS shape reach this authenticator, so first-party (opaque)
 * tokens never go near JWT parsing. A verified token's `(iss, sub)` is linked to one local
 * user (created by its first token); its role follows the token on every request, its `scope`
 * claim narrows what it may call, and a local deactivation still wins.
 *
 * @module
 */
import type { OidcConfig } from "@/config.ts";
import type { Database } from "@/db/database.ts";
import type { Principal } from "@/http/principal.ts";
import type { TokenAuthenticator } from "@/middleware/authenticator.ts";
import type { Clock } from "@/runtime/clock.ts";
import { ServiceUnavailableError } from "@/http/errors.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import { touchIdentity } from "@/modules/oidc/identities.repository.ts";
import { NoProviderKeysError, type OidcKeyStore } from "@/modules/oidc/oidc-keys.ts";
import { linkedUser } from "@/modules/oidc/oidc-users.ts";
import { isCompactJws, OidcTokenVerifier } from "@/modules/oidc/oidc-verifier.ts";
import { ROLE_IDS } from "@/modules/roles/roles.service.ts";
import { applyUserChanges } from "@/modules/users/users.service.ts";

/** `last_seen_at` of an identity is written at most once per this interval. */
const LAST_SEEN_WRITE_INTERVAL_MS = 60_000;

/** Options of {@link createOidcAuthenticator}. */
export interface OidcAuthenticatorOptions {
  config: OidcConfig;
  clock: Clock;
  /** The provider's keys; its owner starts and stops it. */
  keys: OidcKeyStore;
  /** Size bound of the verified-token cache. */
  cacheSize?: number;
}

/** The authenticator, with the verifier it caches tokens in (tests read its counters). */
export interface OidcAuthenticator extends TokenAuthenticator {
  readonly verifier: OidcTokenVerifier;
}

/**
 * The authenticator of provider JWTs. Answers 503 (not 401) while no key set of the provider
 * was ever fetched: the token may well be valid.
 *
 * @example
 * (Not run: its key store fetches the signing keys from a real identity provider.)
 * ```ts ignore
 * const keys = new OidcKeyStore({ issuer: config.oidc.issuer, clock: systemClock });
 * keys.start();
 * const oidc = createOidcAuthenticator({ config: config.oidc, clock: systemClock, keys });
 * ```
 */
export function createOidcAuthenticator(options: OidcAuthenticatorOptions): OidcAuthenticator {
  const { config, clock, keys } = options;
  const log = getAppLogger("oidc");
  const verifier = new OidcTokenVerifier(config, keys.resolver, clock, options.cacheSize);
  // A key gone from the provider's set takes the verifications it vouched for with it.
  keys.onKeysRemoved((change) => verifier.forgetRemovedKeys(change));
  return {
    method: "oidc",
    verifier,
    accepts: isCompactJws,
    async authenticate(token: string, db: Database): Promise<Principal | undefined> {
      let outcome;
      try {
        outcome = await verifier.verify(token);
      } catch (error) {
        if (error instanceof NoProviderKeysError) {
          throw new ServiceUnavailableError(
            "The identity provider's signing keys are not available yet; retry later",
            { cause: error },
          );
        }
        throw error;
      }
      if (!outcome.ok) {
        // The reason, never the token.
        log.debug("Refused a provider token: {reason}", { reason: outcome.reason });
        return undefined;
      }
      const claims = outcome.token;
      const now = clock.now();
      const linked = await linkedUser(db, claims, now);
      if (!linked.user.activated) return undefined;
      const roleId = ROLE_IDS[claims.role];
      if (linked.user.roleId !== roleId) {
        // The provider is the source of truth: mirror its role so lists show it too.
        await applyUserChanges(db, linked.user.id, { roleId }, now);
      }
      if (now.getTime() - linked.lastSeenAt.getTime() >= LAST_SEEN_WRITE_INTERVAL_MS) {
        const staleBefore = new Date(now.getTime() - LAST_SEEN_WRITE_INTERVAL_MS);
        try {
          await touchIdentity(db, linked.identityId, now, staleBefore);
        } catch (error) {
          log.warning("Could not record an identity's use: {error}", {
            identity_id: linked.identityId,
            error,
          });
        }
      }
      return {
        user: { ...linked.user, role: claims.role, roleId },
        method: "oidc",
        // Names outside the vocabulary (`openid`) never match a route's scope.
        scopes: claims.scopes,
        credentialId: claims.tokenId,
        provider: { issuer: claims.issuer, subject: claims.subject },
      };
    },
  };
}
