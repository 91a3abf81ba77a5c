/**
 * Local users of provider identities: the first valid token of an `(issuer, subject)` creates
 * a user (username from the token, made valid and unique) and links it; later tokens find it.
 *
 * @module
 */
import { type Database, UniqueViolationError } from "@/db/database.ts";
import type { RoleName } from "@/middleware/app-env.ts";
import { getAppLogger } from "@/runtime/logger.ts";
import {
  findIdentityUser,
  type IdentityUser,
  insertIdentity,
} from "@/modules/oidc/identities.repository.ts";
import { ROLE_IDS } from "@/modules/roles/roles.service.ts";
import { insertUser } from "@/modules/users/users.service.ts";

/**
 * The `password_hash` of a user created for a provider identity: not a PHC string, so no
 * password ever verifies against it and `POST /auth/token` cannot log in as that user.
 */
export const NO_PASSWORD_HASH = "!provider-identity";

const USERNAME_MIN = 3;
const USERNAME_MAX = 64;
/** Suffixes tried after the plain name is taken, before giving up. */
const UNIQUE_ATTEMPTS = 8;

/**
 * A valid local username from a claim: accents dropped, anything outside letters, digits,
 * `_`, `.` and `-` replaced by `_`, cut to 64 characters and padded to 3.
 *
 * @example
 * ```ts
 * usernameFromClaim("Zoë Müller"); // "Zoe_Muller"
 * ```
 */
export function usernameFromClaim(value: string): string {
  const ascii = value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  let name = ascii.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^_+|_+$/g, "");
  name = name.slice(0, USERNAME_MAX);
  if (name.length < USERNAME_MIN) name = `user_${name}`.slice(0, USERNAME_MAX);
  return name;
}

/** `base` with a random suffix, still at most 64 characters. */
function withSuffix(base: string): string {
  const suffix = Array.from(
    crypto.getRandomValues(new Uint8Array(6)),
    (byte) => "abcdefghijkmnpqrstuvwxyz23456789"[byte % 32],
  ).join("");
  return `${base.slice(0, USERNAME_MAX - suffix.length - 1)}-${suffix}`;
}

/** What {@link linkedUser} needs from a verified token. */
export interface IdentityClaims {
  issuer: string;
  subject: string;
  username: string;
  role: RoleName;
}

/**
 * The local user of `(issuer, subject)`, created with the token's role and a username derived
 * from it when this is the identity's first token. Concurrent first requests link one user.
 */
export async function linkedUser(
  db: Database,
  claims: IdentityClaims,
  now: Date,
): Promise<IdentityUser> {
  const found = await findIdentityUser(db, claims.issuer, claims.subject);
  if (found) return found;
  const base = usernameFromClaim(claims.username);
  for (let attempt = 0; attempt < UNIQUE_ATTEMPTS; attempt++) {
    const username = attempt === 0 ? base : withSuffix(base);
    try {
      const userId = await db.transaction(async (tx) => {
        const id = await insertUser(tx, {
          username,
          passwordHash: NO_PASSWORD_HASH,
          roleId: ROLE_IDS[claims.role],
          now,
        });
        await insertIdentity(tx, {
          userId: id,
          issuer: claims.issuer,
          subject: claims.subject,
          now,
        });
        return id;
      });
      getAppLogger("oidc").info("Created user {user_id} ({username}) for a provider identity", {
        user_id: userId,
        username,
        issuer: claims.issuer,
      });
      const created = await findIdentityUser(db, claims.issuer, claims.subject);
      if (created) return created;
    } catch (error) {
      if (!(error instanceof UniqueViolationError)) throw error;
      // Another request linked this identity first: use its user.
      if (/identit|issuer|subject/i.test(error.constraint)) {
        const linked = await findIdentityUser(db, claims.issuer, claims.subject);
        if (linked) return linked;
        throw error;
      }
      // The username is taken: try it with a suffix.
    }
  }
  throw new Error(`No free username derived from "${base}"`);
}
