/**
 * Opaque, tamper-evident list cursors: the position after the last row of a page, signed with
 * HMAC-SHA-256 under a key derived (HKDF) from SECRET_KEY. The signature also covers the
 * cursor's scope — resource, sort and filters — so a cursor is only accepted by the query that
 * issued it: an edited, truncated or foreign cursor fails verification.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { toBase64Url } from "@/runtime/tokens.ts";

/** Where a page ended: `[id]` for the id order, `[sort value, id]` for any other. */
export type CursorPosition = readonly [number] | readonly [string, number];

/** Bytes of the (truncated) HMAC a cursor carries: 128 bits. */
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function isPosition(value: unknown): value is CursorPosition {
  if (!Array.isArray(value)) return false;
  const id = value[value.length - 1];
  if (!Number.isSafeInteger(id) || (id as number) < 1) return false;
  return value.length === 1 || (value.length === 2 && typeof value[0] === "string");
}

/**
 * Signs and verifies cursors for one secret.
 *
 * @example
 * ```ts
 * const codec = cursorCodec("a secret of at least thirty-two characters");
 * const cursor = await codec.encode("items|name|", ["Blue notebook", 42]);
 * await codec.decode("items|name|", cursor); // ["Blue notebook", 42]
 * await codec.decode("items|-name|", cursor); // undefined: another sort
 * ```
 */
export class CursorCodec {
  #key: Promise<CryptoKey>;

  constructor(secret: string) {
    this.#key = crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, [
      "deriveKey",
    ]).then((base) =>
      crypto.subtle.deriveKey(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: new Uint8Array(),
          info: encoder.encode("items-api list cursor v1"),
        },
        base,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign"],
      )
    );
  }

  async #tag(scope: string, payload: string): Promise<Uint8Array> {
    const mac = await crypto.subtle.sign(
      "HMAC",
      await this.#key,
      encoder.encode(`${scope}\n${payload}`),
    );
    return new Uint8Array(mac, 0, TAG_BYTES);
  }

  /** A cursor for `position`, valid only for `scope`. */
  async encode(scope: string, position: CursorPosition): Promise<string> {
    const payload = toBase64Url(encoder.encode(JSON.stringify(position)));
    return `${payload}.${toBase64Url(await this.#tag(scope, payload))}`;
  }

  /** The position in `cursor`, or undefined when it was not issued for `scope` by this key. */
  async decode(scope: string, cursor: string): Promise<CursorPosition | undefined> {
    const [payload, tag, ...rest] = cursor.split(".");
    if (payload === undefined || tag === undefined || rest.length > 0) return undefined;
    const given = fromBase64Url(tag);
    if (!given || given.length !== TAG_BYTES) return undefined;
    if (!timingSafeEqual(given, await this.#tag(scope, payload))) return undefined;
    try {
      const bytes = fromBase64Url(payload);
      const value: unknown = bytes && JSON.parse(decoder.decode(bytes));
      return isPosition(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }
}

const codecs = new Map<string, CursorCodec>();

/** The codec of `secret`, derived once per process. */
export function cursorCodec(secret: string): CursorCodec {
  let codec = codecs.get(secret);
  if (!codec) codecs.set(secret, codec = new CursorCodec(secret));
  return codec;
}
