/**
 * A static OpenID issuer for the benchmark: a discovery document and a key set served by a tiny
 * `Deno.serve` on loopback, and access tokens signed with its key (RS256, as most providers
 * sign). The service fetches the keys once at startup; the issuer sees no traffic during runs.
 *
 * @module
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";

/** The `aud` of the benchmark's provider tokens. */
export const BENCH_AUDIENCE = "https://items-api.bench";

/** A running issuer. */
export interface BenchIssuer {
  readonly issuer: string;
  /** An access token for `sub`, valid for an hour, with the given extra claims. */
  mint(sub: string, claims?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

/** Serve discovery and keys on 127.0.0.1:`port`. */
export async function startBenchIssuer(port: number): Promise<BenchIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const kid = `bench-${crypto.randomUUID().slice(0, 8)}`;
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" }] };
  const issuer = `http://127.0.0.1:${port}`;
  const discovery = { issuer, jwks_uri: `${issuer}/jwks` };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
    const { pathname } = new URL(req.url);
    if (pathname === "/.well-known/openid-configuration") return Response.json(discovery);
    if (pathname === "/jwks") return Response.json(jwks);
    return new Response("not found", { status: 404 });
  });
  return {
    issuer,
    mint: (sub, claims = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid })
        .setIssuer(issuer)
        .setAudience(BENCH_AUDIENCE)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(privateKey),
    stop: () => server.shutdown(),
  };
}
