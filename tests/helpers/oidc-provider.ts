/**
 * A real OpenID provider on loopback for the tests: the npm package `oidc-provider` with the
 * client-credentials grant and JWT access tokens for one resource indicator (this API), and
 * jose to mint the tokens no honest provider issues (expired, wrong issuer, `alg: none`, …)
 * with the provider's own signing key.
 *
 * @module
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
// deno-lint-ignore no-import-prefix -- test-only: kept out of deno.json so the service never fetches it (docs/decisions.md)
import Provider from "npm:oidc-provider@^9.13.3";

/** The `aud` (resource indicator) the test provider issues tokens for. */
export const TEST_AUDIENCE = "https://items-api.test";

/** Every scope of the API, as the provider's resource server offers them. */
const API_SCOPES = "items:read items:write users:read users:write versions:write";

/** A client of the test provider and the claims its tokens carry. */
export interface TestClient {
  id: string;
  /** Scopes the client may ask for (default: every API scope). */
  scope?: string;
  /** Extra claims of its access tokens, such as `roles` or `preferred_username`. */
  claims?: Record<string, unknown>;
}

/** Options of {@link startTestProvider}. */
export interface TestProviderOptions {
  clients: TestClient[];
  /** Seconds the access tokens live (default 300). */
  accessTokenTtl?: number;
  /** More RS256 keys published beside the signing key (as during a rotation). */
  extraKeys?: number;
}

/** What a JWT can be signed with. */
export type SigningSecret = Parameters<SignJWT["sign"]>[0];

/** A running provider. */
export interface TestProvider {
  readonly issuer: string;
  readonly audience: string;
  /** The `kid` of the current signing key. */
  readonly kid: string;
  /** The current signing key, to mint edge-case tokens that verify against the key set. */
  readonly privateKey: CryptoKey;
  /** The current public key as a JWK (as the key set publishes it). */
  readonly publicJwk: JWK;
  /** The private keys of {@link TestProviderOptions.extraKeys}, also in the key set. */
  readonly extraPrivateKeys: readonly CryptoKey[];
  /** How many times the key set (`jwks_uri`) was requested. */
  readonly jwksRequests: number;
  /** A JWT access token from the client-credentials grant of `clientId`. */
  token(clientId: string, options?: { scope?: string }): Promise<string>;
  /** A JWT signed with the provider's key (or `key`), with sane defaults for every claim. */
  mint(
    claims: Record<string, unknown>,
    options?: { header?: Record<string, unknown>; key?: SigningSecret },
  ): Promise<string>;
  /** Stop and start again on the same address with a new signing key (key rotation). */
  rotate(): Promise<void>;
  /** Stop answering (the provider is down); {@link TestProvider.rotate} brings it back. */
  stop(): Promise<void>;
  /**
   * Hang instead (a network partition): its address accepts connections and never answers,
   * so every request to it waits for its own timeout. {@link TestProvider.rotate} brings it
   * back and {@link TestProvider.stop} ends it; either closes the connections it held.
   */
  blackhole(): Promise<void>;
  /** Connections the black hole accepted (and never answered) so far. */
  readonly blackholed: number;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  privateJwk: JWK;
  publicJwk: JWK;
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = `k-${crypto.randomUUID().slice(0, 8)}`;
  const base = { kid, alg: "RS256", use: "sig" };
  return {
    kid,
    privateKey,
    privateJwk: { ...(await exportJWK(privateKey)), ...base },
    publicJwk: { ...(await exportJWK(publicKey)), ...base },
  };
}

/** Start a provider on 127.0.0.1 with the given clients. */
export async function startTestProvider(options: TestProviderOptions): Promise<TestProvider> {
  const clients = new Map(options.clients.map((c) => [c.id, c]));
  let key = await newSigningKey();
  const extra = await Promise.all(
    Array.from({ length: options.extraKeys ?? 0 }, () => newSigningKey()),
  );
  let jwksRequests = 0;
  let server: http.Server | undefined;
  let port = 0;
  let hole: { listener: Deno.Listener; held: Set<Deno.Conn>; accepting: Promise<void> } | undefined;
  let blackholed = 0;

  const listen = async () => {
    const next = http.createServer();
    next.on("request", (req) => {
      if (req.url?.startsWith("/jwks")) jwksRequests++;
    });
    await new Promise<void>((resolve) => next.listen(port, "127.0.0.1", resolve));
    port = (next.address() as AddressInfo).port;
    const provider = new Provider(`http://127.0.0.1:${port}`, {
      jwks: { keys: [key.privateJwk, ...extra.map((k) => k.privateJwk)] },
      clients: options.clients.map((c) => ({
        client_id: c.id,
        client_secret: `${c.id}-secret`,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        scope: c.scope ?? API_SCOPES,
      })),
      scopes: API_SCOPES.split(" "),
      features: {
        clientCredentials: { enabled: true },
        devInteractions: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => TEST_AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: API_SCOPES,
            audience: TEST_AUDIENCE,
            accessTokenFormat: "jwt",
            accessTokenTTL: options.accessTokenTtl ?? 300,
            jwt: { sign: { alg: "RS256" } },
          }),
        },
      },
      ttl: { ClientCredentials: options.accessTokenTtl ?? 300 },
      extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) =>
        clients.get(token.clientId ?? "")?.claims,
    });
    next.on("request", provider.callback());
    server = next;
  };

  const closeHole = async () => {
    const current = hole;
    hole = undefined;
    if (!current) return;
    current.listener.close();
    for (const conn of current.held) conn.close();
    await current.accepting;
  };

  const stop = async () => {
    await closeHole();
    const current = server;
    server = undefined;
    if (!current) return;
    current.closeAllConnections();
    await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  await listen();
  const issuer = `http://127.0.0.1:${port}`;

  return {
    issuer,
    audience: TEST_AUDIENCE,
    get kid() {
      return key.kid;
    },
    get privateKey() {
      return key.privateKey;
    },
    get publicJwk() {
      return key.publicJwk;
    },
    extraPrivateKeys: extra.map((k) => k.privateKey),
    get jwksRequests() {
      return jwksRequests;
    },
    async token(clientId, { scope } = {}) {
      const form = new URLSearchParams({
        grant_type: "client_credentials",
        resource: TEST_AUDIENCE,
      });
      if (scope !== undefined) form.set("scope", scope);
      const res = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${btoa(`${clientId}:${clientId}-secret`)}`,
        },
        body: form,
      });
      const body = await res.json() as { access_token?: string };
      if (!res.ok || !body.access_token) {
        throw new Error(`The test provider refused a token: ${JSON.stringify(body)}`);
      }
      return body.access_token;
    },
    mint(claims, { header = {}, key: signingKey } = {}) {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({
        iss: issuer,
        aud: TEST_AUDIENCE,
        sub: `minted-${crypto.randomUUID()}`,
        iat: now,
        exp: now + 300,
        ...claims,
      });
      jwt.setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: key.kid, ...header } as {
        alg: string;
      });
      return jwt.sign(signingKey ?? key.privateKey);
    },
    async rotate() {
      await stop();
      key = await newSigningKey();
      await listen();
    },
    stop,
    async blackhole() {
      await stop();
      const listener = Deno.listen({ hostname: "127.0.0.1", port });
      const held = new Set<Deno.Conn>();
      const accepting = (async () => {
        for (;;) {
          try {
            held.add(await listener.accept());
            blackholed++;
          } catch {
            return; // closed
          }
        }
      })();
      hole = { listener, held, accepting };
    },
    get blackholed() {
      return blackholed;
    },
  };
}
