/**
 * Opaque bearer tokens: 32 random bytes from the CSPRNG, base64url without padding (43
 * characters). Only their SHA-256 digests (hex) are stored, so a copy of the sessions table
 * cannot be replayed.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Random bytes per token (256 bits). */
export const TOKEN_BYTES = 32;

/** What {@link generateToken} produces: 43 base64url characters. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Encode bytes as base64url without padding (RFC 4648 section 5). */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * A new random token.
 *
 * @example
 * ```ts
 * const token = generateToken(); // "q3Vd...": 43 characters
 * ```
 */
export function generateToken(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
}

/**
 * The SHA-256 digest of a token as 64 lowercase hex characters: the only form that is stored.
 *
 * @example
 * ```ts
 * const hash = await hashToken(generateToken()); // 64 hex characters
 * ```
 */
export function hashToken(token: string): Promise<string> {
  // A measured fast path (bench/README.md); the plain equivalent is crypto.subtle.digest().
  return Promise.resolve(createHash("sha256").update(token).digest("hex"));
}
