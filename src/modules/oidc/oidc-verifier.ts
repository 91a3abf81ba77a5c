/**
 * Verification of a provider's access tokens (signed JWTs): asymmetric algorithms only, `iss`
 * exactly the configured issuer, `aud` containing the configured audience, `exp`/`nbf`/`iat`
 * within the clock tolerance, a lifetime (`exp` − `iat`) of at most `OIDC_MAX_TOKEN_LIFETIME` and a
 * `sub`. What a verified token says (who, which role, which scopes) is cached until it expires
 * or for `OIDC_MAX_TOKEN_CACHE_TTL`, whichever comes first, and until its key leaves the
 * provider's key set, so a token is verified once per period, not on every request.
 *
 * @module
 */
import { errors, type JWTPayload, jwtVerify } from "jose";
import type { OidcConfig } from "@/config.ts";
import type { RoleName } from "@/middleware/app-env.ts";
import type { Clock } from "@/runtime/clock.ts";
import {
  type KeyResolver,
  type KeySetChange,
  NoProviderKeysError,
} from "@/modules/oidc/oidc-keys.ts";

/**
 * The only algorithms accepted: `none` and every HMAC (HS*) are refused before any key is
 * looked up, so a public key can never serve as an HMAC secret (algorithm confusion).
 */
export const ACCEPTED_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;

/** Verified tokens kept in memory at most (oldest evicted first). */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/** A compact JWS: three base64url parts (the signature may be empty, as with `alg: none`). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Longer bearer tokens are not considered JWTs (a real access token is a few KB at most). */
const MAX_JWT_LENGTH = 16_384;

/** Whether `token` has the shape of a compact JWS; a cheap syntactic check, no decoding. */
export function isCompactJws(token: string): boolean {
  return token.length <= MAX_JWT_LENGTH && COMPACT_JWS.test(token);
}

/** What a valid provider token says about its bearer. */
export interface VerifiedToken {
  issuer: string;
  subject: string;
  /** The username claim (or `sub`), before it is made a valid local username. */
  username: string;
  role: RoleName;
  /** Names in the token's `scope` (or `scp`) claim; undefined when it has none. */
  scopes: readonly string[] | undefined;
  /** When the token expires (ms since the epoch); the cache entry dies with it at the latest. */
  expiresAtMs: number;
  /** The token's `jti` or `client_id`, for logs; never the token. */
  tokenId: string | undefined;
}

/** Why a token was refused (a metric label and a debug log; the client always gets one 401). */
export type RejectionReason =
  | "malformed"
  | "algorithm"
  | "signature"
  | "unknown_key"
  | "expired"
  | "not_yet_valid"
  | "lifetime"
  | "claims";

/** A cached verification: the claims, until when they are trusted, and the key that signed them. */
interface CachedToken {
  token: VerifiedToken;
  /** The earlier of `exp` and verification time + `OIDC_MAX_TOKEN_CACHE_TTL`. */
  untilMs: number;
  /** The `kid` of the token's header; undefined when it named none. */
  keyId: string | undefined;
}

/** Outcome of {@link OidcTokenVerifier.verify}. */
export type VerifyOutcome =
  | { ok: true; token: VerifiedToken; cached: boolean }
  | { ok: false; reason: RejectionReason };

/**
 * Verifies provider tokens against the provider's keys and caches the verified ones.
 *
 * @example
 * ```ts
 * import { generateKeyPair, SignJWT } from "jose";
 * import { parseConfig } from "@/config.ts";
 * import { OidcTokenVerifier } from "@/modules/oidc/oidc-verifier.ts";
 * import { systemClock } from "@/runtime/clock.ts";
 *
 * const issuer = "https://id.example.com";
 * const env = { APP_ENV: "test", OIDC_ISSUER: issuer, OIDC_AUDIENCE: "items-api" };
 * const { oidc } = parseConfig(env);
 * // The service resolves keys with `keys.resolver` (an OidcKeyStore); here, one local key pair.
 * const { publicKey, privateKey } = await generateKeyPair("ES256");
 * const token = await new SignJWT({ preferred_username: "alice", roles: ["admin"] })
 *   .setProtectedHeader({ alg: "ES256" })
 *   .setIssuer(issuer)
 *   .setAudience("items-api")
 *   .setSubject("user-1")
 *   .setIssuedAt()
 *   .setExpirationTime("5m")
 *   .sign(privateKey);
 * const verifier = new OidcTokenVerifier(oidc!, () => Promise.resolve(publicKey), systemClock);
 * const outcome = await verifier.verify(token);
 * if (outcome.ok) console.log(outcome.token.subject, outcome.token.role); // "user-1" "admin"
 * ```
 */
export class OidcTokenVerifier {
  readonly #config: OidcConfig;
  readonly #resolveKey: KeyResolver;
  readonly #clock: Clock;
  readonly #cacheSize: number;
  readonly #cache = new Map<string, CachedToken>();

  constructor(
    config: OidcConfig,
    resolveKey: KeyResolver,
    clock: Clock,
    cacheSize = VERIFIED_TOKEN_CACHE_SIZE,
  ) {
    this.#config = config;
    this.#resolveKey = resolveKey;
    this.#clock = clock;
    this.#cacheSize = cacheSize;
  }

  /** How many verified tokens are cached. */
  get cachedCount(): number {
    return this.#cache.size;
  }

  /**
   * Forget the verifications a removed key vouched for: those whose `kid` left the key set,
   * and, when any key left, those of tokens that named no `kid` (which key verified them is not
   * known). Their next request verifies again, against the keys as they are now.
   */
  forgetRemovedKeys(change: KeySetChange): void {
    for (const [token, cached] of this.#cache) {
      const gone = cached.keyId === undefined
        ? change.removedCount > 0
        : change.removedKeyIds.has(cached.keyId);
      if (gone) this.#cache.delete(token);
    }
  }

  /**
   * Verify `token`. Throws {@link NoProviderKeysError} when no key set was ever fetched (the
   * caller answers 503); every other failure is a rejection.
   */
  async verify(token: string): Promise<VerifyOutcome> {
    const now = this.#clock.now();
    const hit = this.#cache.get(token);
    if (hit) {
      if (hit.untilMs > now.getTime()) return { ok: true, token: hit.token, cached: true };
      this.#cache.delete(token);
    }
    const options = {
      algorithms: [...ACCEPTED_ALGORITHMS],
      issuer: this.#config.issuer,
      audience: this.#config.audience,
      clockTolerance: Math.floor(this.#config.clockToleranceMs / 1000),
      currentDate: now,
      requiredClaims: ["sub", "exp"],
    };
    let payload: JWTPayload;
    let keyId: string | undefined;
    try {
      const verified = await jwtVerify(token, this.#resolveKey, options);
      payload = verified.payload;
      keyId = verified.protectedHeader.kid;
    } catch (error) {
      if (error instanceof NoProviderKeysError) throw error;
      if (!(error instanceof errors.JWKSMultipleMatchingKeys)) {
        return { ok: false, reason: rejectionReason(error) };
      }
      // No `kid` and several keys of the algorithm (a provider mid-rotation): try each.
      const verified = await verifyWithAny(token, error, options);
      if (!verified.ok) return verified;
      payload = verified.payload;
    }
    if (!this.#lifetimeWithin(payload, now)) return { ok: false, reason: "lifetime" };
    const verified = this.#read(payload, now);
    if (!verified) return { ok: false, reason: "claims" };
    this.#remember(token, verified, keyId, now);
    return { ok: true, token: verified, cached: false };
  }

  /**
   * Whether the token lives at most `OIDC_MAX_TOKEN_LIFETIME`: `exp` − `iat`, or `exp` − now
   * (beyond the clock tolerance) for a token without `iat`. A correctly signed token that
   * claims to live for centuries is refused rather than trusted for them.
   */
  #lifetimeWithin(payload: JWTPayload, now: Date): boolean {
    const { exp, iat } = payload;
    if (typeof exp !== "number") return true; // refused as "claims" below
    const max = this.#config.maxTokenLifetimeMs;
    if (typeof iat === "number") return (exp - iat) * 1000 <= max;
    return exp * 1000 - now.getTime() <= max + this.#config.clockToleranceMs;
  }

  /** The claims this service uses, or undefined when one of them is unusable. */
  #read(payload: JWTPayload, now: Date): VerifiedToken | undefined {
    const { sub, iss, exp, iat } = payload;
    if (typeof sub !== "string" || sub === "" || sub.length > 255) return undefined;
    if (typeof iss !== "string" || typeof exp !== "number") return undefined;
    // jose checks `iat` only with maxTokenAge: a token issued in the future is refused here.
    if (typeof iat === "number" && iat * 1000 > now.getTime() + this.#config.clockToleranceMs) {
      return undefined;
    }
    const named = claimAt(payload, this.#config.usernameClaim);
    const username = typeof named === "string" && named.trim() !== "" ? named : sub;
    const roles = roleNames(claimAt(payload, this.#config.rolesClaim));
    return {
      issuer: iss,
      subject: sub,
      username,
      role: roles.includes(this.#config.adminRole) ? "admin" : "user",
      scopes: scopeNames(payload),
      expiresAtMs: exp * 1000,
      tokenId: typeof payload.jti === "string"
        ? payload.jti
        : typeof payload.client_id === "string"
        ? payload.client_id
        : undefined,
    };
  }

  #remember(token: string, verified: VerifiedToken, keyId: string | undefined, now: Date): void {
    const untilMs = Math.min(
      verified.expiresAtMs,
      now.getTime() + this.#config.maxTokenCacheTtlMs,
    );
    if (untilMs <= now.getTime()) return; // OIDC_MAX_TOKEN_CACHE_TTL=0s: no cache
    if (this.#cache.size >= this.#cacheSize) {
      // Oldest first: Map iteration follows insertion order.
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(token, { token: verified, untilMs, keyId });
  }
}

/**
 * The value at `path` of the claims: the claim of exactly that name first (namespaced claims
 * such as `https://example.com/roles` contain dots), else a dot path (`realm_access.roles`).
 */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let value: unknown = claims;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, part)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Role names from a claim: an array of strings, or one string of space-separated names. */
function roleNames(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  if (typeof value === "string") return value.split(" ").filter(Boolean);
  return [];
}

/**
 * `scope` (RFC 9068: space-separated) or Entra ID's `scp`; undefined when neither is there. A
 * claim of another type grants no scope at all rather than every one.
 */
function scopeNames(payload: JWTPayload): string[] | undefined {
  const value = payload.scope ?? payload.scp;
  if (value === undefined) return undefined;
  if (typeof value === "string") return value.split(" ").filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

async function verifyWithAny(
  token: string,
  candidates: errors.JWKSMultipleMatchingKeys,
  options: Parameters<typeof jwtVerify>[2],
): Promise<{ ok: true; payload: JWTPayload } | { ok: false; reason: RejectionReason }> {
  let reason: RejectionReason = "signature";
  for await (const key of candidates) {
    try {
      return { ok: true, payload: (await jwtVerify(token, key, options)).payload };
    } catch (error) {
      reason = rejectionReason(error);
      // Only a wrong key is worth another try; a bad claim fails with every key.
      if (reason !== "signature") break;
    }
  }
  return { ok: false, reason };
}

function rejectionReason(error: unknown): RejectionReason {
  if (error instanceof errors.JWTExpired) return "expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    return error.claim === "nbf" ? "not_yet_valid" : "claims";
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return "algorithm";
  }
  if (
    error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return "unknown_key";
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "signature";
  return "malformed";
}
