/**
 * Provider access tokens at the verifier: a real `oidc-provider` on loopback issues them, jose
 * mints the ones no honest provider issues.
 */
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { base64url, exportSPKI, generateKeyPair, importJWK, SignJWT } from "jose";
import type { OidcConfig } from "@/config.ts";
import { ManualClock } from "@/runtime/clock.ts";
import { NoProviderKeysError, OidcKeyStore } from "@/modules/oidc/oidc-keys.ts";
import { claimAt, isCompactJws, OidcTokenVerifier } from "@/modules/oidc/oidc-verifier.ts";
import { usernameFromClaim } from "@/modules/oidc/oidc-users.ts";
import { startTestProvider, type TestClient, type TestProvider } from "./helpers/oidc-provider.ts";

function oidcConfig(provider: TestProvider, overrides: Partial<OidcConfig> = {}): OidcConfig {
  return {
    issuer: provider.issuer,
    audience: provider.audience,
    rolesClaim: "roles",
    adminRole: "admin",
    usernameClaim: "preferred_username",
    clockToleranceMs: 30_000,
    maxTokenCacheTtlMs: 5 * 60_000,
    maxTokenLifetimeMs: 24 * 3_600_000,
    ...overrides,
  };
}

async function setUp(clients: TestClient[] = [{ id: "svc", claims: { roles: ["admin"] } }]) {
  const provider = await startTestProvider({ clients });
  const clock = new ManualClock(new Date());
  const keys = new OidcKeyStore({ issuer: provider.issuer, clock });
  assert(await keys.refresh(), "the first key fetch succeeds");
  const verifier = new OidcTokenVerifier(oidcConfig(provider), keys.resolver, clock);
  return { provider, clock, keys, verifier };
}

/** `header.payload.` with no signature, as an `alg: none` token is written. */
function unsecured(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const part = (value: unknown) => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(payload)}.`;
}

Deno.test("A token from the real provider verifies and says who, which role and which scopes", async (t) => {
  const { provider, keys, verifier } = await setUp([
    { id: "ops", claims: { roles: ["admin", "ops"], preferred_username: "Ops Robot" } },
    { id: "reader", claims: { roles: "user" } },
  ]);
  try {
    await t.step("an admin client with a narrowed scope", async () => {
      const token = await provider.token("ops", { scope: "items:read users:read" });
      assert(isCompactJws(token));
      const outcome = await verifier.verify(token);
      assert(outcome.ok, JSON.stringify(outcome));
      assertEquals(outcome.token.issuer, provider.issuer);
      assertEquals(outcome.token.subject, "ops");
      assertEquals(outcome.token.username, "Ops Robot");
      assertEquals(outcome.token.role, "admin");
      assertEquals(outcome.token.scopes, ["items:read", "users:read"]);
      assertEquals(outcome.cached, false);
    });
    await t.step("a client without the admin role and no scope asked for", async () => {
      const outcome = await verifier.verify(await provider.token("reader"));
      assert(outcome.ok);
      assertEquals(outcome.token.role, "user");
      assertEquals(outcome.token.username, "reader", "falls back to sub");
    });
    await t.step("a verified token is cached until it expires", async () => {
      const token = await provider.token("reader");
      assertEquals((await verifier.verify(token)).ok, true);
      const again = await verifier.verify(token);
      assert(again.ok && again.cached);
    });
  } finally {
    keys.stop();
    await provider.stop();
  }
});

Deno.test("Tokens that fail a check are refused with the reason", async (t) => {
  const { provider, keys, verifier, clock } = await setUp();
  const now = Math.floor(Date.now() / 1000);
  const refused = async (token: string, reason: string) => {
    const outcome = await verifier.verify(token);
    assertEquals(outcome, { ok: false, reason } as typeof outcome);
  };
  try {
    await t.step("expired beyond the tolerance", async () => {
      await refused(await provider.mint({ iat: now - 600, exp: now - 31 }), "expired");
    });
    await t.step("expired within the tolerance is still accepted", async () => {
      assert((await verifier.verify(await provider.mint({ exp: now - 20 }))).ok);
    });
    await t.step("not valid yet (nbf in the future)", async () => {
      await refused(await provider.mint({ nbf: now + 120 }), "not_yet_valid");
    });
    await t.step("issued in the future (iat)", async () => {
      await refused(await provider.mint({ iat: now + 120 }), "claims");
    });
    await t.step("wrong issuer", async () => {
      await refused(await provider.mint({ iss: `${provider.issuer}/other` }), "claims");
    });
    await t.step("issuer differing only by a trailing slash", async () => {
      await refused(await provider.mint({ iss: `${provider.issuer}/` }), "claims");
    });
    await t.step("wrong audience", async () => {
      await refused(await provider.mint({ aud: "https://other-api.test" }), "claims");
    });
    await t.step("audience list containing ours is accepted", async () => {
      assert((await verifier.verify(await provider.mint({ aud: ["x", provider.audience] }))).ok);
    });
    await t.step("missing sub", async () => {
      await refused(await provider.mint({ sub: undefined }), "claims");
    });
    await t.step("missing exp", async () => {
      await refused(await provider.mint({ exp: undefined }), "claims");
    });
    await t.step("alg none", async () => {
      const token = unsecured({ alg: "none", kid: provider.kid }, {
        iss: provider.issuer,
        aud: provider.audience,
        sub: "mallory",
        exp: now + 300,
      });
      assert(isCompactJws(token));
      await refused(token, "algorithm");
    });
    await t.step("HS256 signed with the provider's public key (algorithm confusion)", async () => {
      const before = keys.fetchCount;
      const publicKey = await importJWK(provider.publicJwk, "RS256", { extractable: true });
      const pem = await exportSPKI(publicKey as Parameters<typeof exportSPKI>[0]);
      for (const secret of [pem, JSON.stringify(provider.publicJwk)]) {
        const token = await new SignJWT({ sub: "mallory", iss: provider.issuer })
          .setProtectedHeader({ alg: "HS256", kid: provider.kid })
          .setAudience(provider.audience)
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(secret));
        await refused(token, "algorithm");
      }
      assertEquals(keys.fetchCount, before, "refused before any key lookup");
    });
    await t.step("signed by a key the provider never had (unknown kid)", async () => {
      const { privateKey } = await generateKeyPair("RS256");
      clock.advance(31_000);
      await refused(
        await provider.mint({}, { key: privateKey, header: { kid: "not-a-key" } }),
        "unknown_key",
      );
      await keys.settled(); // the background refetch it started
    });
    await t.step("signed by another key under the provider's kid", async () => {
      const { privateKey } = await generateKeyPair("RS256");
      await refused(await provider.mint({}, { key: privateKey }), "signature");
    });
    await t.step("tampered payload", async () => {
      const token = await provider.token("svc");
      const [header, payload, signature] = token.split(".") as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
      const forged = base64url.encode(JSON.stringify({ ...claims, sub: "someone-else" }));
      await refused(`${header}.${forged}.${signature}`, "signature");
    });
    await t.step("garbage in JWS shape", async () => {
      await refused("abc.def.ghi", "malformed");
    });
  } finally {
    keys.stop();
    await provider.stop();
  }
});

Deno.test("Key rotation: a new key is fetched in the background once per 30 s, and the last keys stay when the provider is down", async (t) => {
  const { provider, keys, verifier, clock } = await setUp();
  try {
    const oldToken = await provider.token("svc");
    assert((await verifier.verify(oldToken)).ok);
    const fetchesBefore = provider.jwksRequests;

    await t.step(
      "the provider restarts with a new key: its first token is refused at once, the next ones work after one background refetch",
      async () => {
        await provider.rotate();
        clock.advance(31_000);
        const fresh = await provider.token("svc");
        assertEquals(await verifier.verify(fresh), { ok: false, reason: "unknown_key" });
        await keys.settled();
        const outcome = await verifier.verify(fresh);
        assert(outcome.ok, JSON.stringify(outcome));
        assertEquals(provider.jwksRequests, fetchesBefore + 1);
      },
    );

    await t.step("unknown kids within 30 s of a fetch trigger no further fetch", async () => {
      const before = provider.jwksRequests;
      for (let i = 0; i < 5; i++) {
        const outcome = await verifier.verify(
          await provider.mint({}, {
            header: { kid: `unknown-${i}` },
          }),
        );
        assertEquals(outcome.ok, false);
      }
      assertEquals(provider.jwksRequests, before);
    });

    await t.step("after 30 s one unknown kid may refetch again", async () => {
      const before = provider.jwksRequests;
      clock.advance(30_000);
      await verifier.verify(await provider.mint({}, { header: { kid: "unknown-again" } }));
      await keys.settled();
      assertEquals(provider.jwksRequests, before + 1);
    });

    await t.step("provider down: tokens of the known key keep verifying", async () => {
      await provider.stop();
      assertEquals(await keys.refresh(), false);
      assert(keys.hasKeys);
      assert((await verifier.verify(await provider.mint({ sub: "while-down" }))).ok);
    });
  } finally {
    keys.stop();
    await provider.stop();
  }
});

Deno.test("A token without kid verifies against whichever of several keys signed it", async (t) => {
  const provider = await startTestProvider({ clients: [{ id: "svc" }], extraKeys: 2 });
  const clock = new ManualClock(new Date());
  const keys = new OidcKeyStore({ issuer: provider.issuer, clock });
  try {
    await keys.refresh();
    const verifier = new OidcTokenVerifier(oidcConfig(provider), keys.resolver, clock);
    await t.step("signed by the second published key", async () => {
      const token = await provider.mint({}, {
        key: provider.extraPrivateKeys[1]!,
        header: { kid: undefined },
      });
      assert((await verifier.verify(token)).ok);
    });
    await t.step("signed by none of them", async () => {
      const { privateKey } = await generateKeyPair("RS256");
      const token = await provider.mint({}, { key: privateKey, header: { kid: undefined } });
      assertEquals(await verifier.verify(token), { ok: false, reason: "signature" });
    });
    await t.step("signed by one of them but expired", async () => {
      const token = await provider.mint({ exp: Math.floor(Date.now() / 1000) - 600 }, {
        key: provider.extraPrivateKeys[0]!,
        header: { kid: undefined },
      });
      assertEquals(await verifier.verify(token), { ok: false, reason: "expired" });
    });
  } finally {
    keys.stop();
    await provider.stop();
  }
});

Deno.test("Without any key set, verification reports the keys unavailable", async () => {
  const provider = await startTestProvider({ clients: [{ id: "svc" }] });
  const token = await provider.token("svc");
  await provider.stop();
  const clock = new ManualClock(new Date());
  const keys = new OidcKeyStore({ issuer: provider.issuer, clock, timeoutMs: 1000 });
  assertEquals(await keys.refresh(), false);
  assertEquals(keys.hasKeys, false);
  const verifier = new OidcTokenVerifier(oidcConfig(provider), keys.resolver, clock);
  await assertRejects(() => verifier.verify(token), NoProviderKeysError);
});

Deno.test("A discovery document naming another issuer is not trusted", async () => {
  const provider = await startTestProvider({ clients: [{ id: "svc" }] });
  try {
    // Same server, but configured with a trailing slash the provider does not use.
    const keys = new OidcKeyStore({ issuer: `${provider.issuer}/`, clock: new ManualClock() });
    assertEquals(await keys.refresh(), false);
    assertEquals(keys.hasKeys, false);
  } finally {
    await provider.stop();
  }
});

Deno.test("The verified-token cache is bounded", async () => {
  const provider = await startTestProvider({ clients: [{ id: "svc" }] });
  const clock = new ManualClock(new Date());
  const keys = new OidcKeyStore({ issuer: provider.issuer, clock });
  try {
    await keys.refresh();
    const verifier = new OidcTokenVerifier(oidcConfig(provider), keys.resolver, clock, 3);
    for (let i = 0; i < 5; i++) await verifier.verify(await provider.mint({ sub: `s${i}` }));
    assertEquals(verifier.cachedCount, 3);
  } finally {
    await provider.stop();
  }
});

Deno.test("Claims are read by exact name first, then by dot path", () => {
  const claims = {
    "https://example.com/roles": ["admin"],
    realm_access: { roles: ["user"] },
  };
  assertEquals(claimAt(claims, "https://example.com/roles"), ["admin"]);
  assertEquals(claimAt(claims, "realm_access.roles"), ["user"]);
  assertEquals(claimAt(claims, "realm_access.missing"), undefined);
  assertEquals(claimAt(claims, "toString"), undefined);
});

Deno.test("usernameFromClaim() makes any claim a valid username", async (t) => {
  const cases: Array<[string, string]> = [
    ["alice", "alice"],
    ["Zoë Müller", "Zoe_Muller"],
    ["alice@example.com", "alice_example.com"],
    ["a", "user_a"],
    ["日本", "user_"],
    ["x".repeat(100), "x".repeat(64)],
  ];
  for (const [claim, expected] of cases) {
    await t.step(`"${claim.slice(0, 20)}" becomes "${expected.slice(0, 20)}"`, () => {
      const name = usernameFromClaim(claim);
      assertEquals(name, expected);
      assert(/^[A-Za-z0-9_.-]{3,64}$/.test(name));
    });
  }
});
