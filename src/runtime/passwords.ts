/**
 * Password hashing with Argon2id (off the event loop), stored as PHC strings. `SECRET_KEY` is
 * the pepper, passed as Argon2's secret input (K), so a stolen database alone is not enough to
 * test guesses. The Argon2id itself is an {@link Argon2Backend}: Web Crypto here, the native
 * binding in `password-backends.ts` (chosen once at startup); both give the same bytes.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";

/**
 * A password check refused because the hashing queue is full: for one client (`client`, a
 * 429 to that client) or for everyone (`all`, a 503). Either may be retried after
 * {@link HashQueueFullError.retryAfterSeconds}.
 */
export class HashQueueFullError extends Error {
  override name = "HashQueueFullError";
  readonly retryAfterSeconds = QUEUE_RETRY_AFTER_SECONDS;
  constructor(readonly scope: "client" | "all", message: string) {
    super(message);
  }
}

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

/** Where the Argon2id computation runs; every backend gives the same bytes for the same input. */
export type Argon2BackendName = "native" | "webcrypto";

/** One Argon2id implementation (version 0x13). */
export interface Argon2Backend {
  readonly name: Argon2BackendName;
  /**
   * The raw Argon2id output of `length` bytes for the UTF-8 bytes of `password`, with `salt`
   * as the nonce and `pepper` as the secret input (K).
   */
  argon2id(
    password: Uint8Array,
    salt: Uint8Array,
    params: Argon2Params,
    pepper: Uint8Array,
    length: number,
  ): Promise<Uint8Array>;
}

/** Argon2id through Web Crypto (Deno 2.9), available everywhere Deno runs. */
export const WEB_CRYPTO_ARGON2: Argon2Backend = { name: "webcrypto", argon2id: webCryptoArgon2id };

async function webCryptoArgon2id(
  password: Uint8Array,
  salt: Uint8Array,
  params: Argon2Params,
  pepper: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", password as BufferSource, "Argon2id", false, [
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

/** The PHC string of an Argon2id (v=19) hash: `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`. */
export function formatPhc(params: Argon2Params, salt: Uint8Array, hash: Uint8Array): string {
  const { memory, passes, parallelism } = params;
  return `$argon2id$v=19$m=${memory},t=${passes},p=${parallelism}$${toBase64NoPad(salt)}$${
    toBase64NoPad(hash)
  }`;
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

/** Bounds of the work waiting for a hashing slot (see {@link PasswordHasher}). */
export interface HashQueueLimits {
  /** Hashes waiting at most, from everyone together; beyond it 503. */
  maxWaiting: number;
  /** Hashes waiting at most for one client (one {@link HashOptions.client}); beyond it 429. */
  maxWaitingPerClient: number;
}

/** Default {@link HashQueueLimits}: 32 waiting, 8 of them from one client. */
export const DEFAULT_HASH_QUEUE_LIMITS: HashQueueLimits = hashQueueLimits(32);

/**
 * Hashes allowed to wait when `PASSWORD_HASH_QUEUE_LIMIT` is unset: 32 on Web Crypto, 128 on the
 * native binding. A native hash costs a quarter or less, so four times the queue keeps the longest
 * wait of a burst about where Web Crypto's 32 put it (on one slot, 160 logins at once: the last
 * accepted done after about 1.4 s either way; bench/passwords.ts) while refusing 31 instead of
 * 127 of them.
 */
export function defaultHashQueueLimit(backend: Argon2BackendName): number {
  return backend === "native" ? 128 : 32;
}

/** The {@link HashQueueLimits} of `PASSWORD_HASH_QUEUE_LIMIT`: a quarter of it per client. */
export function hashQueueLimits(maxWaiting: number): HashQueueLimits {
  return { maxWaiting, maxWaitingPerClient: Math.max(1, Math.ceil(maxWaiting / 4)) };
}

/** Options of one hash or verification. */
export interface HashOptions {
  /**
   * Whose work this is (the client address of a login). Waiting hashes are served round-robin
   * between clients, so one client's burst does not delay another's login by more than one
   * hash per client waiting; each client may have at most `maxWaitingPerClient` waiting.
   * Without it (internal and admin work) only the overall bound applies.
   */
  client?: string | undefined;
}

/** Retry-After of a refusal by a full hashing queue: the queue drains within about a second. */
const QUEUE_RETRY_AFTER_SECONDS = 1;

/**
 * A counting semaphore: at most `limit` tasks at once; waiting tasks are bounded and served
 * round-robin between clients (a client's own tasks in arrival order).
 */
class HashSlots {
  #active = 0;
  #waiting = 0;
  /** Client -> its waiting tasks; Map order is the round-robin order. */
  readonly #queues = new Map<string | undefined, Array<() => void>>();

  constructor(readonly limit: number, readonly bounds: HashQueueLimits) {}

  async run<T>(task: () => Promise<T>, client?: string): Promise<T> {
    if (this.#active < this.limit) this.#active++;
    else await this.#wait(client);
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #wait(client: string | undefined): Promise<void> {
    const queue = this.#queues.get(client);
    if (client !== undefined && (queue?.length ?? 0) >= this.bounds.maxWaitingPerClient) {
      return Promise.reject(
        new HashQueueFullError("client", "Too many password checks from this client at once"),
      );
    }
    if (this.#waiting >= this.bounds.maxWaiting) {
      return Promise.reject(
        new HashQueueFullError("all", "Too many password checks waiting; retry shortly"),
      );
    }
    this.#waiting++;
    return new Promise<void>((resolve) => {
      if (queue) queue.push(resolve);
      else this.#queues.set(client, [resolve]);
    });
  }

  /** Hand the slot straight to the next client's oldest waiter, or give it back. */
  #release(): void {
    const first = this.#queues.entries().next();
    if (first.done) {
      this.#active--;
      return;
    }
    const [client, queue] = first.value;
    const next = queue.shift()!;
    // That client goes to the back of the round.
    this.#queues.delete(client);
    if (queue.length > 0) this.#queues.set(client, queue);
    this.#waiting--;
    next();
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
  readonly #backend: Argon2Backend;
  #dummy: Promise<string> | undefined;

  /**
   * @param concurrency how many hashes may run at once (default: one core fewer than the
   *   machine has, at least 1); the rest wait their turn, within `queueLimits`
   * @param queueLimits how much work may wait: beyond it a hash is refused at once (429 for a
   *   client over its share, 503 when the queue is full) instead of making every login wait
   * @param backend where Argon2id runs (default Web Crypto; the service picks the native
   *   binding where it loads, see `choosePasswordBackend`)
   */
  constructor(
    secretKey: string,
    params: Argon2Params = DEFAULT_ARGON2_PARAMS,
    concurrency = defaultHashConcurrency(),
    queueLimits: HashQueueLimits = DEFAULT_HASH_QUEUE_LIMITS,
    backend: Argon2Backend = WEB_CRYPTO_ARGON2,
  ) {
    this.#pepper = encoder.encode(secretKey);
    this.#params = params;
    this.#slots = new HashSlots(concurrency, queueLimits);
    this.#backend = backend;
  }

  /** Where this hasher's Argon2id runs (`native` or `webcrypto`), for the start log and metrics. */
  get backend(): Argon2BackendName {
    return this.#backend.name;
  }

  /** Hash a password into a PHC string with a fresh random salt. */
  async hash(password: string, options: HashOptions = {}): Promise<string> {
    const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
    const hash = await this.#slots.run(
      () =>
        this.#backend.argon2id(
          encoder.encode(password),
          salt,
          this.#params,
          this.#pepper,
          HASH_BYTES,
        ),
      options.client,
    );
    return formatPhc(this.#params, salt, hash);
  }

  /** Check a password against a stored PHC string in constant time. */
  async verify(password: string, phc: string, options: HashOptions = {}): Promise<VerifyResult> {
    const parsed = parsePhc(phc);
    if (!parsed || parsed.hash.length === 0) {
      // An account without a usable hash (one linked to an identity provider) answers in the
      // time of a real verification, so login timing does not tell such accounts apart.
      await this.verifyDummy(password, options);
      return { valid: false, needsRehash: false };
    }
    const candidate = await this.#slots.run(
      () =>
        this.#backend.argon2id(
          encoder.encode(password),
          parsed.salt,
          parsed.params,
          this.#pepper,
          parsed.hash.length,
        ),
      options.client,
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
  async verifyDummy(password: string, options: HashOptions = {}): Promise<void> {
    await this.verify(password, await this.warmUp(), options);
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
