/**
 * The identity provider's signing keys: discovered from
 * `<issuer>/.well-known/openid-configuration` (its `jwks_uri`), fetched in the background and
 * kept in memory, so verifying a token never waits for the network. Startup does not depend on
 * the provider: a failed fetch is logged and retried with backoff; once keys are known, a failed
 * refresh keeps the last ones. A token signed with an unknown `kid` is refused at once and
 * starts at most one background refetch per {@link UNKNOWN_KID_REFETCH_MS} (key rotation
 * without a restart): a request never waits for the provider, so made-up `kid`s against a
 * hanging provider cannot hold the admission slots other clients need.
 *
 * @module
 */
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters } from "jose";
import type { Clock } from "@/runtime/clock.ts";
import { getAppLogger } from "@/runtime/logger.ts";

/** At most one background refetch per this interval when a token names a key we do not have. */
export const UNKNOWN_KID_REFETCH_MS = 30_000;

/** Keys are refreshed this often even when no unknown `kid` asks for it. */
const REFRESH_INTERVAL_MS = 15 * 60_000;

/** Retry delays after a failed fetch: doubling from the first to the last. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/** A discovery document or key set larger than this is refused (a provider's is a few KB). */
const MAX_DOCUMENT_BYTES = 512 * 1024;

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

/** Resolves the verification key of a token's protected header (jose's key-function shape). */
export type KeyResolver = (header: JWSHeaderParameters) => ReturnType<LocalKeySet>;

/** The provider's key set is not known yet (startup fetch failed and no retry succeeded). */
export class NoProviderKeysError extends Error {
  override name = "NoProviderKeysError";
  constructor() {
    super("The identity provider's keys are not available");
  }
}

/** What a successful fetch changed: listeners drop what they trusted because of a key now gone. */
export interface KeySetChange {
  /** The `kid`s of the keys that left the set (or changed under the same `kid`). */
  readonly removedKeyIds: ReadonlySet<string>;
  /** How many keys of the previous set are gone, those without a `kid` included. */
  readonly removedCount: number;
}

/** Options of {@link OidcKeyStore}. */
export interface OidcKeyStoreOptions {
  /** The configured issuer; the discovery document must name exactly this one. */
  issuer: string;
  clock: Clock;
  /** Injected for tests; the global `fetch` otherwise. */
  fetch?: typeof fetch;
  /** Deadline of each HTTP request to the provider. */
  timeoutMs?: number;
}

/**
 * The provider's current keys, with background fetching and throttled refetch on an unknown
 * `kid`.
 *
 * @example
 * (Not run: it fetches the discovery document and keys from a real identity provider.)
 * ```ts ignore
 * const keys = new OidcKeyStore({ issuer: "https://id.example.com", clock: systemClock });
 * keys.start(); // not awaited: startup never waits for the provider
 * await jwtVerify(token, keys.resolver, { algorithms: ["RS256"] });
 * ```
 */
export class OidcKeyStore {
  readonly #issuer: string;
  readonly #clock: Clock;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #log = getAppLogger("oidc");
  #keys: LocalKeySet | undefined;
  /** Each key of the current set as JSON, to tell which ones a refetch removed. */
  #keyJson = new Map<string, string | undefined>();
  readonly #listeners = new Set<(change: KeySetChange) => void>();
  /** Aborted by {@link stop}: shutdown never waits for a hanging provider. */
  #abort = new AbortController();
  #jwksUri: string | undefined;
  #lastFetchStartedAt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<boolean> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = RETRY_FIRST_MS;
  #stopped = false;
  #fetchCount = 0;

  constructor(options: OidcKeyStoreOptions) {
    this.#issuer = options.issuer;
    this.#clock = options.clock;
    this.#fetch = options.fetch ?? fetch;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** How many fetches of the provider's metadata and keys were attempted. */
  get fetchCount(): number {
    return this.#fetchCount;
  }

  /** Whether any key set has been fetched; without one, provider tokens answer 503. */
  get hasKeys(): boolean {
    return this.#keys !== undefined;
  }

  /** Begin fetching in the background; failures are logged and retried. */
  start(): void {
    this.#stopped = false;
    void this.refresh().then((ok) => this.#schedule(ok));
  }

  /** Stop the background refresh (at shutdown) and abort a fetch under way. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    this.#abort = new AbortController();
  }

  /**
   * Call `listener` after each fetch that removed keys (not on the first load); returns the
   * unsubscribe function.
   */
  onKeysRemoved(listener: (change: KeySetChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the fetch under way (if any) settled; for tests and startup logs. */
  async settled(): Promise<void> {
    await this.#inflight;
  }

  /**
   * Fetch discovery and keys now (deduplicated with a fetch under way). Resolves to whether it
   * succeeded; never rejects. On failure the previous keys stay in use.
   */
  refresh(): Promise<boolean> {
    this.#inflight ??= this.#fetchKeys().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  /**
   * The key of a token's header, from the keys in memory only. An unknown `kid` throws at once
   * (`JWKSNoMatchingKey`) and starts a background refetch, at most once per 30 s; the token
   * verifies on a later request, once the refetch has its key.
   */
  readonly resolver: KeyResolver = async (header) => {
    const keys = this.#keys;
    if (!keys) throw new NoProviderKeysError();
    try {
      return await keys(header);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey) this.#refetchInBackground();
      throw error;
    }
  };

  /** Refetch for an unknown `kid`, never awaited: throttled, and joined by nobody. */
  #refetchInBackground(): void {
    if (this.#stopped || this.#inflight !== undefined) return;
    const now = this.#clock.now().getTime();
    if (now - this.#lastFetchStartedAt < UNKNOWN_KID_REFETCH_MS) return;
    void this.refresh();
  }

  async #fetchKeys(): Promise<boolean> {
    this.#lastFetchStartedAt = this.#clock.now().getTime();
    this.#fetchCount++;
    const signal = this.#abort.signal;
    try {
      this.#jwksUri ??= await this.#discover(signal);
      const jwks = await this.#getJson(this.#jwksUri, signal) as JSONWebKeySet;
      // Throws on a malformed set; the previous keys stay.
      const keys = createLocalJWKSet(jwks);
      const count = Array.isArray(jwks.keys) ? jwks.keys.length : 0;
      if (count === 0) throw new Error("The key set has no keys");
      const first = this.#keys === undefined;
      this.#keys = keys;
      this.#replaceKeyJson(jwks.keys);
      this.#log[first ? "info" : "debug"]("Loaded {count} signing keys of {issuer}", {
        count,
        issuer: this.#issuer,
      });
      return true;
    } catch (error) {
      // The discovery document may have moved the key set: look it up again next time.
      this.#jwksUri = undefined;
      if (signal.aborted) return false; // stopped at shutdown: nothing to report
      this.#log.warning(
        this.#keys
          ? "Could not refresh the keys of {issuer}; the last ones stay in use: {reason}"
          : "Could not fetch the keys of {issuer}; provider tokens answer 503 until it works: {reason}",
        { issuer: this.#issuer, reason: error instanceof Error ? error.message : String(error) },
      );
      return false;
    }
  }

  /** Remember the new set's keys and tell the listeners which of the previous ones are gone. */
  #replaceKeyJson(keys: readonly JSONWebKeySet["keys"][number][]): void {
    const previous = this.#keyJson;
    const next = new Map<string, string | undefined>();
    for (const key of keys) next.set(JSON.stringify(key), key.kid);
    this.#keyJson = next;
    const removedKeyIds = new Set<string>();
    let removedCount = 0;
    for (const [json, kid] of previous) {
      if (next.has(json)) continue;
      removedCount++;
      if (kid !== undefined) removedKeyIds.add(kid);
    }
    if (removedCount === 0) return;
    for (const listener of this.#listeners) {
      try {
        listener({ removedKeyIds, removedCount });
      } catch (error) {
        this.#log.error("A key-set listener failed: {error}", { error });
      }
    }
  }

  async #discover(signal: AbortSignal): Promise<string> {
    const metadata = await this.#getJson(discoveryUrl(this.#issuer), signal) as {
      issuer?: unknown;
      jwks_uri?: unknown;
    };
    if (metadata.issuer !== this.#issuer) {
      throw new Error(`The discovery document names issuer "${String(metadata.issuer)}"`);
    }
    if (typeof metadata.jwks_uri !== "string" || !isKeySetUrl(metadata.jwks_uri)) {
      throw new Error("The discovery document has no usable jwks_uri");
    }
    return metadata.jwks_uri;
  }

  async #getJson(url: string, stopped: AbortSignal): Promise<unknown> {
    const res = await this.#fetch(url, {
      headers: { Accept: "application/json" },
      redirect: "error",
      signal: AbortSignal.any([stopped, AbortSignal.timeout(this.#timeoutMs)]),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`GET ${url} answered ${res.status}`);
    }
    const text = await res.text();
    if (text.length > MAX_DOCUMENT_BYTES) throw new Error(`GET ${url} answered a huge document`);
    return JSON.parse(text);
  }

  #schedule(lastOk: boolean): void {
    if (this.#stopped) return;
    const delay = lastOk ? REFRESH_INTERVAL_MS : this.#retryMs;
    this.#retryMs = lastOk ? RETRY_FIRST_MS : Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.refresh().then((ok) => this.#schedule(ok));
    }, delay);
    // Never keeps the process (or a test) alive on its own.
    Deno.unrefTimer(this.#timer as unknown as number);
  }
}

/** Where an issuer publishes its metadata (OpenID Connect Discovery 1.0, section 4). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

/** The key set must come over https (or http on a loopback host, as the issuer may). */
function isKeySetUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" ||
      (url.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname));
  } catch {
    return false;
  }
}
