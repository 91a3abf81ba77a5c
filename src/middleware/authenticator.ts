/**
 * The interface every kind of credential (session
 * token, provider JWT, API key) implements. `requireAuth()` asks the app's authenticators in
 * order; the first whose {@link TokenAuthenticator.accepts} is true decides, so each token
 * reaches exactly one lookup, and a token no authenticator accepts costs no I/O at all.
 *
 * @module
 */
import type { AuthMethod, Principal } from "@/http/principal.ts";
import type { Database } from "@/db/database.ts";

/**
 * A credential's `last_used_at` is written at most once per this interval (sessions and API
 * keys alike), so a busy client costs about one write a minute, not one per request.
 */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

/**
 * Record a credential's use unless it was recorded within {@link LAST_USED_WRITE_INTERVAL_MS}:
 * `touch(staleBefore)` writes only where the stored `last_used_at` is older than `staleBefore`,
 * so instances racing each other write about once per interval. A failure is only logged by
 * `onError`: the request itself is authenticated.
 */
export async function recordUse(
  now: Date,
  lastUsedAt: Date | null,
  touch: (staleBefore: Date) => Promise<unknown>,
  onError: (error: unknown) => void,
): Promise<void> {
  if (lastUsedAt !== null && now.getTime() - lastUsedAt.getTime() < LAST_USED_WRITE_INTERVAL_MS) {
    return;
  }
  try {
    await touch(new Date(now.getTime() - LAST_USED_WRITE_INTERVAL_MS));
  } catch (error) {
    onError(error);
  }
}

/** One kind of bearer credential. */
export interface TokenAuthenticator {
  readonly method: AuthMethod;
  /** Whether `token` has this credential's shape: a syntactic check, no I/O. */
  accepts(token: string): boolean;
  /** The principal of a valid token; undefined for an unknown, expired or revoked one (401). */
  authenticate(token: string, db: Database): Promise<Principal | undefined>;
}
