/**
 * Which {@link Argon2Backend} the service hashes passwords with, chosen once at startup: the
 * native binding `@node-rs/argon2` (the RustCrypto `argon2` crate through Node-API, four to
 * five times faster than Deno 2.9's Web Crypto at the default parameters) where it loads, Web Crypto
 * where it does not. Both compute the same Argon2id (version 0x13, the pepper as the secret
 * input): a hash written by one verifies with the other, so the choice never ties stored hashes
 * to a platform, and a native backend that disagrees with Web Crypto on a known input is not
 * used.
 *
 * Loading a Node-API addon needs `--allow-ffi` for its file; the tasks and the compiled binary
 * grant it for the addon's folder only (docs/decisions.md, "Native Argon2id").
 *
 * @example
 * ```ts
 * import { choosePasswordBackend } from "@/runtime/password-backends.ts";
 * import { PasswordHasher } from "@/runtime/passwords.ts";
 *
 * const { backend, fallbackReason } = await choosePasswordBackend("auto");
 * // backend.name: "native", or "webcrypto" with fallbackReason saying why
 * const secret = "a-secret-key-of-at-least-32-characters";
 * const hasher = new PasswordHasher(secret, undefined, 1, undefined, backend);
 * ```
 *
 * @module
 */
import type { Algorithm, Version } from "@node-rs/argon2";
import {
  type Argon2Backend,
  type Argon2BackendName,
  type Argon2Params,
  WEB_CRYPTO_ARGON2,
} from "./passwords.ts";

/** `auto`: native where it loads, else Web Crypto; the others insist on one backend. */
export type PasswordHasherSetting = "auto" | Argon2BackendName;

/** The backend {@link choosePasswordBackend} settled on. */
export interface BackendChoice {
  readonly backend: Argon2Backend;
  /** Why the native binding is not used, when `auto` fell back to Web Crypto. */
  readonly fallbackReason?: string;
}

/** Options of {@link choosePasswordBackend}. */
export interface ChooseBackendOptions {
  /** Loads the native backend (default {@link loadNativeArgon2}; tests inject one that fails). */
  loadNative?: () => Promise<Argon2Backend>;
}

/** The native backend could not be used although the setting requires it. */
export class NativeArgon2UnavailableError extends Error {
  override name = "NativeArgon2UnavailableError";
  constructor(readonly reason: string) {
    super(`The native Argon2id binding (@node-rs/argon2) cannot be used: ${reason}`);
  }
}

// `Algorithm` and `Version` are const enums in the binding's typings: their values, by name.
const ARGON2ID = 2 as Algorithm;
const VERSION_0X13 = 1 as Version;

/**
 * Load `@node-rs/argon2` (its prebuilt `.node` file for this platform) as an
 * {@link Argon2Backend}. Rejects where there is no build for the platform or `--allow-ffi`
 * does not cover the file.
 */
export async function loadNativeArgon2(): Promise<Argon2Backend> {
  const { hashRaw } = await import("@node-rs/argon2");
  return {
    name: "native",
    async argon2id(password, salt, params, pepper, length) {
      // Runs on a thread of its own (a Node-API async task), like Web Crypto's deriveBits.
      const out = await hashRaw(password, {
        algorithm: ARGON2ID,
        version: VERSION_0X13,
        memoryCost: params.memory,
        timeCost: params.passes,
        parallelism: params.parallelism,
        outputLen: length,
        salt,
        secret: pepper,
      });
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    },
  };
}

/** A cheap known input (64 KiB, one pass) both backends must agree on before native is used. */
const CHECK_PARAMS: Argon2Params = { memory: 64, passes: 1, parallelism: 1 };
const encoder = new TextEncoder();

async function assertSameAsWebCrypto(native: Argon2Backend): Promise<void> {
  const input = [
    encoder.encode("pässwörd check"),
    encoder.encode("a-salt-of-16-b!!"),
    CHECK_PARAMS,
    encoder.encode("a-pepper"),
    32,
  ] as const;
  const [ours, theirs] = await Promise.all([
    native.argon2id(...input),
    WEB_CRYPTO_ARGON2.argon2id(...input),
  ]);
  if (ours.length !== theirs.length || ours.some((byte, i) => byte !== theirs[i])) {
    throw new Error("its output differs from Web Crypto's for the same input");
  }
}

/** One line on why the binding did not load (napi-rs chains every attempt through `cause`). */
function describeLoadError(error: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = error; e !== undefined && messages.length < 8;) {
    const message = e instanceof Error ? e.message : String(e);
    messages.push(message.split("\n")[0]!);
    e = e instanceof Error ? e.cause : undefined;
  }
  // A denied permission is the actionable one; otherwise the outermost message.
  return messages.find((m) => /ffi access|NotCapable|permission/i.test(m)) ?? messages[0]!;
}

async function loadChecked(load: () => Promise<Argon2Backend>): Promise<Argon2Backend> {
  const backend = await load();
  await assertSameAsWebCrypto(backend);
  return backend;
}

let defaultLoad: Promise<Argon2Backend> | undefined;

/**
 * The backend for `setting`: `webcrypto` as asked; for `native` the binding, or
 * {@link NativeArgon2UnavailableError}; for `auto` the binding when it loads and agrees with
 * Web Crypto on a known input, else Web Crypto and the reason. The default loader runs once per
 * process; later calls reuse its outcome.
 */
export async function choosePasswordBackend(
  setting: PasswordHasherSetting,
  options: ChooseBackendOptions = {},
): Promise<BackendChoice> {
  if (setting === "webcrypto") return { backend: WEB_CRYPTO_ARGON2 };
  try {
    const backend = await (options.loadNative
      ? loadChecked(options.loadNative)
      : (defaultLoad ??= loadChecked(loadNativeArgon2)));
    return { backend };
  } catch (error) {
    const reason = describeLoadError(error);
    if (setting === "native") throw new NativeArgon2UnavailableError(reason);
    return { backend: WEB_CRYPTO_ARGON2, fallbackReason: reason };
  }
}
