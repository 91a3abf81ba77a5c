/**
 * Provider access tokens for one instance: the key store and the authenticator over it, or
 * nothing when OIDC_ISSUER is unset.
 *
 * @module
 */
import type { Config } from "@/config.ts";
import type { Clock } from "@/runtime/clock.ts";
import {
  createOidcAuthenticator,
  type OidcAuthenticator,
} from "@/modules/oidc/oidc-authenticator.ts";
import { OidcKeyStore } from "@/modules/oidc/oidc-keys.ts";

/** The OIDC parts of a running instance. */
export interface OidcSetup {
  readonly authenticator: OidcAuthenticator;
  readonly keys: OidcKeyStore;
}

/**
 * Build the OIDC authenticator when configured and start fetching the provider's keys in the
 * background (never awaited: startup does not depend on the provider). Call
 * `setup.keys.stop()` at shutdown.
 */
export function startOidc(
  config: Config,
  deps: { clock: Clock },
): OidcSetup | undefined {
  if (!config.oidc) return undefined;
  const keys = new OidcKeyStore({ issuer: config.oidc.issuer, clock: deps.clock });
  keys.start();
  const authenticator = createOidcAuthenticator({ config: config.oidc, keys, ...deps });
  return { authenticator, keys };
}
