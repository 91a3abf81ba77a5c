/**
 * Password hashing with Argon2id through Web Crypto (runs off the event loop), stored as PHC
 * strings. `SECRET_KEY` is the pepper, passed as Argon2's secret input (K), so a stolen
 * database alone is not enough to test guesses.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";

/** Argon2id cost parameters. */
export interface Argon2Params {
  /** Memory in KiB. */
  memory: number;
  passes: number;
  parallelism: number;
}

/** OWASP's recommended minimum for Argon2id (19 MiB, 2 passes, 1 lane). */
export const DEFAULT_ARGON2_PARAMS: Argon2Params = { memory: 19_456, passes: 2, parallelism: 1 };

/** Passwords outside these bounds are rejected before any hashing. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/** Why a password with a lone UTF-16 surrogate is refused. */
export const PASSWORD_NOT_WELL_FORMED = "Expected text without lone UTF-16 surrogates";

/**
 * Whether a new password is well-formed Unicode. A lone surrogate would be hashed as its UTF-8
 * replacement (U+FFFD), so two different passwords would share one hash; such passwords are
 * refused wherever one is set.
 */
export function isWellFormedPassword(password: string): boolean {
  return password.isWellFormed();
}

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const encoder = new TextEncoder();

function toBase64NoPad(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function argon2id(
  password: string,
  salt: Uint8Array,
  params: Argon2Params,
  pepper: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "Argon2id", false, [
    "deriveBits",
  ]);
  const algorithm = {
    name: "Argon2id",
    nonce: salt,
    memory: params.memory,
    passes: params.passes,
    parallelism: params.parallelism,
    secretValue: pepper,
  };
  // Argon2 in Web Crypto is newer than the DOM typings bundled with TypeScript.
  const bits = await crypto.subtle.deriveBits(algorithm as unknown as Algorithm, key, length * 8);
  return new Uint8Array(bits);
}

interface ParsedHash {
  params: Argon2Params;
  salt: Uint8Array;
  hash: Uint8Array;
}

function parsePhc(phc: string): ParsedHash | undefined {
  const m = PHC.exec(phc);
  if (!m) return undefined;
  return {
    params: { memory: Number(m[1]), passes: Number(m[2]), parallelism: Number(m[3]) },
    salt: fromBase64(m[4]!),
    hash: fromBase64(m[5]!),
  };
}

/**
 * One core fewer than the machine has (at least 1). Each Argon2id runs on a thread of its own
 * and holds its `memory` (19 MiB) while it runs: unbounded, a login flood would take every core
 * from the event loop (every other request waits) and hundreds of MiB.
 */
function defaultHashConcurrency(): number {
  return Math.max(1, (navigator.hardwareConcurrency || 1) - 1);
}

/** A counting semaphore: at most `limit` tasks at once, the rest in arrival order. */
class HashSlots {
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active < this.limit) this.#active++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, or give it back.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

/** Outcome of {@link PasswordHasher.verify}. */
export interface VerifyResult {
  valid: boolean;
  /** The hash was made with weaker parameters than configured: store a fresh one. */
  needsRehash: boolean;
}

/**
 * Hashes and verifies passwords with one pepper and one set of parameters.
 *
 * @example
 * ```ts
 * const hasher = new PasswordHasher("a-secret-key-of-at-least-32-characters");
 * const phc = await hasher.hash("correct horse battery staple");
 * (await hasher.verify("correct horse battery staple", phc)).valid; // true
 * ```
 */
export class PasswordHasher {
  readonly #pepper: Uint8Array;
  readonly #params: Argon2Params;
  readonly #slots: HashSlots;
  #dummy: Promise<string> | undefined;

  /**
   * @param concurrency how many hashes may run at once (default: one core fewer than the
   *   machine has, at least 1); the rest wait their turn
   */
  constructor(
    secretKey: string,
    params: Argon2Params = DEFAULT_ARGON2_PARAMS,
    concurrency = defaultHashConcurrency(),
  ) {
    this.#pepper = encoder.encode(secretKey);
    this.#params = params;
    this.#slots = new HashSlots(concurrency);
  }

  /** Hash a password into a PHC string with a fresh random salt. */
  async hash(password: string): Promise<string> {
    const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
    const hash = await this.#slots.run(() =>
      argon2id(password, salt, this.#params, this.#pepper, HASH_BYTES)
    );
    const { memory, passes, parallelism } = this.#params;
    return `$argon2id$v=19$m=${memory},t=${passes},p=${parallelism}$${toBase64NoPad(salt)}$${
      toBase64NoPad(hash)
    }`;
  }

  /** Check a password against a stored PHC string in constant time. */
  async verify(password: string, phc: string): Promise<VerifyResult> {
    const parsed = parsePhc(phc);
    if (!parsed || parsed.hash.length === 0) return { valid: false, needsRehash: false };
    const candidate = await this.#slots.run(() =>
      argon2id(password, parsed.salt, parsed.params, this.#pepper, parsed.hash.length)
    );
    const valid = timingSafeEqual(candidate, parsed.hash);
    const p = parsed.params;
    const needsRehash = valid &&
      (p.memory < this.#params.memory || p.passes < this.#params.passes ||
        p.parallelism < this.#params.parallelism || parsed.hash.length < HASH_BYTES);
    return { valid, needsRehash };
  }

  /**
   * Spend the same time as a real verification, for a user that does not exist, so the
   * answer does not tell whether the username is taken.
   */
  async verifyDummy(password: string): Promise<void> {
    await this.verify(password, await this.warmUp());
  }

  /** Make the dummy hash now (at startup), so the first unknown-user login costs one hash. */
  warmUp(): Promise<string> {
    this.#dummy ??= this.hash(crypto.randomUUID());
    return this.#dummy;
  }
}

const GENERATED_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/** A random password of `length` characters from a CSPRNG, without look-alike characters. */
export function generatePassword(length = 20): string {
  const out: string[] = [];
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % GENERATED_ALPHABET.length);
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < limit && out.length < length) {
        out.push(GENERATED_ALPHABET[byte % GENERATED_ALPHABET.length]!);
      }
    }
  }
  return out.join("");
}
