/**
 * The rules of API keys: what a new key may carry, how many a user holds, who may see and
 * revoke which keys. The key is generated here and leaves only in the creation response.
 *
 * @module
 */
import { UniqueViolationError } from "@/db/database.ts";
import type { Queryable } from "@/db/database.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { AuthUser } from "@/middleware/app-env.ts";
import type { ScopeCatalog } from "@/http/scopes.ts";
import { type AuditContext, recordIn } from "@/modules/audit/audit.service.ts";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/http/errors.ts";
import { generateToken, hashToken } from "@/runtime/tokens.ts";
import {
  type ApiKey,
  countUserApiKeys,
  deleteApiKey,
  deleteUserApiKeys,
  insertApiKey,
  listUserApiKeys,
} from "@/modules/api-keys/api-keys.repository.ts";
import { getUser, lockUser } from "@/modules/users/users.service.ts";

/** What every key starts with, so secret scanners can recognise a leaked one. */
export const API_KEY_PREFIX = "iak_";

/** Revoke every key of a user (what users calls, through its hook, on deactivation). */
export function revokeUserApiKeys(db: Queryable, userId: number): Promise<unknown> {
  return deleteUserApiKeys(db, userId);
}

/** An API key: the prefix and 32 random bytes in base64url (43 characters), nothing else. */
export const API_KEY_PATTERN = /^iak_[A-Za-z0-9_-]{43}$/;

/** Characters of a key kept in clear (`iak_` and 8 more) to tell keys apart in lists. */
const SHOWN_PREFIX_LENGTH = 12;

/** What the API-keys service needs besides the request's database. */
export interface ApiKeysDeps extends Pick<AppDeps, "clock" | "config" | "metrics"> {
  /** The scope vocabulary a key's scopes come from. */
  readonly scopes: ScopeCatalog;
}

type Deps = Pick<AppDeps, "db"> & ApiKeysDeps & { readonly audit?: AuditContext };

/** A created key and the key itself (returned once). */
export interface CreatedApiKey {
  apiKey: ApiKey;
  key: string;
}

/** What `POST /auth/api-keys` asks for. */
export interface ApiKeyRequest {
  name: string;
  scopes: readonly string[];
  expiresAt?: Date | undefined;
}

/**
 * Create a key for `owner`: scopes within the owner's role (422 otherwise), an expiry in the
 * future, a name not used by the owner's other keys (409) and at most
 * `API_KEYS_MAX_PER_USER` keys per user (409: the state, not the request, is the problem).
 */
export async function createApiKey(
  deps: Deps,
  owner: AuthUser,
  request: ApiKeyRequest,
): Promise<CreatedApiKey> {
  const now = deps.clock.now();
  const scopes = [...new Set(request.scopes)];
  const ofRole = deps.scopes.ofRole(owner.role);
  const beyondRole = scopes.filter((scope) => !ofRole.includes(scope));
  const errors = beyondRole.map((scope) => ({
    path: `body.scopes.${scopes.indexOf(scope)}`,
    message: deps.scopes.has(scope)
      ? `The ${owner.role} role cannot grant "${scope}"`
      : `Unknown scope "${scope}"; expected one of ${deps.scopes.names.join(", ")}`,
  }));
  if (request.expiresAt !== undefined && request.expiresAt.getTime() <= now.getTime()) {
    errors.push({ path: "body.expires_at", message: "Expected a time in the future" });
  }
  if (errors.length > 0) throw new ValidationError(errors);

  const key = API_KEY_PREFIX + generateToken();
  const keyHash = await hashToken(key);
  const max = deps.config.auth.maxApiKeysPerUser;
  const prefix = key.slice(0, SHOWN_PREFIX_LENGTH);
  const apiKey = await deps.db.transaction(async (tx) => {
    // One creation per user at a time, so concurrent requests cannot pass the bound together.
    await lockUser(tx, owner.id);
    if (await countUserApiKeys(tx, owner.id) >= max) {
      throw new ConflictError(`A user holds at most ${max} API keys; revoke one first`);
    }
    try {
      const created = await insertApiKey(tx, {
        userId: owner.id,
        name: request.name,
        keyHash,
        prefix,
        scopes,
        now,
        expiresAt: request.expiresAt ?? null,
      });
      // Never the key: its id, name, prefix (as lists show it), scopes and expiry.
      await recordIn(tx, deps.audit, {
        action: "api_key.created",
        targetType: "api_key",
        targetId: created.id,
        changes: {
          user_id: { before: null, after: owner.id },
          name: { before: null, after: created.name },
          prefix: { before: null, after: created.prefix },
          scopes: { before: null, after: created.scopes },
          expires_at: { before: null, after: created.expires_at },
        },
      });
      return created;
    } catch (error) {
      if (error instanceof UniqueViolationError) {
        throw new ConflictError(`An API key named "${request.name}" already exists for this user`);
      }
      throw error;
    }
  });
  return { apiKey, key };
}

/** The keys `actor` asks for: their own, or (admins only) another user's. */
export async function listApiKeys(
  deps: Deps,
  actor: AuthUser,
  userId: number | undefined,
): Promise<ApiKey[]> {
  const target = userId ?? actor.id;
  if (target !== actor.id) {
    if (actor.role !== "admin") {
      throw new ForbiddenError("Only admins may list another user's keys");
    }
    await getUser(deps, target); // 404 when there is no such user
  }
  return await listUserApiKeys(deps.db, target);
}

/**
 * Revoke a key of `actor` (any key, for admins); another user's key is 404 to non-admins. Its
 * request counter goes with it.
 */
export async function revokeApiKey(
  deps: Deps & Pick<AppDeps, "metrics">,
  actor: AuthUser,
  keyId: number,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const deleted = actor.role === "admin"
      ? await deleteApiKey(tx, keyId)
      : await deleteApiKey(tx, keyId, actor.id);
    if (!deleted) throw new NotFoundError("API key not found");
    await recordIn(tx, deps.audit, {
      action: "api_key.revoked",
      targetType: "api_key",
      targetId: keyId,
    });
  });
  deps.metrics.forgetApiKey(keyId);
}
