/**
 * Provider tokens cannot make the service slow or unavailable for anyone else (issue #23), and
 * trust in a provider token has a ceiling: against a real OpenID provider (`oidc-provider`) on
 * loopback, black-holed when a test needs it to hang.
 *
 * - An unknown `kid` never makes a request wait for the provider: it is refused at once and
 *   the key set is refetched in the background, so made-up `kid`s cannot hold the admission
 *   slots while the provider hangs.
 * - A verification is cached for at most `OIDC_MAX_TOKEN_CACHE_TTL`, and no longer than its key
 *   stays in the provider's key set; a token claiming a lifetime beyond
 *   `OIDC_MAX_TOKEN_LIFETIME` is refused.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { bearer } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { startTestProvider, type TestProvider } from "./helpers/oidc-provider.ts";
import { ManualClock } from "@/runtime/clock.ts";
import type { OidcConfig } from "@/config.ts";
import { OidcKeyStore, UNKNOWN_KID_REFETCH_MS } from "@/modules/oidc/oidc-keys.ts";
import { OidcTokenVerifier } from "@/modules/oidc/oidc-verifier.ts";

const CLIENTS = [{ id: "bob-user", claims: { roles: ["user"], preferred_username: "bob" } }];

/** Admission bound of the test app: far fewer slots than the parallel attack below. */
const SLOTS = 2;
const ATTACKERS = 12;

interface Timed {
  status: number;
  ms: number;
}

async function timed(app: TestApp, path: string, token?: string): Promise<Timed> {
  const started = performance.now();
  const res = await app.request("GET", path, { headers: token ? bearer(token) : {} });
  await res.body?.cancel();
  return { status: res.status, ms: Math.round(performance.now() - started) };
}

function countStatuses(results: readonly Timed[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of results) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] Made-up kids against a hanging identity provider are refused at once and never hold the admission slots`, async (t) => {
    const provider = await startTestProvider({ clients: CLIENTS });
    const app = await createTestApp(dialect, {
      env: {
        OIDC_ISSUER: provider.issuer,
        OIDC_AUDIENCE: provider.audience,
        MAX_IN_FLIGHT_REQUESTS: String(SLOTS),
        ADMISSION_QUEUE_LIMIT: "64",
        ADMISSION_QUEUE_TIMEOUT: "1s",
      },
    });
    const keys = app.oidc!.keys;
    try {
      const valid = await provider.token("bob-user");
      assertEquals((await timed(app, "/auth/me", valid)).status, 200);

      await t.step(
        "the provider hangs; made-up kids from one address are refused in parallel, others are served",
        async () => {
          await provider.blackhole();
          // Long enough since the startup fetch that an unknown kid may ask for a refetch.
          app.clock.advance(UNKNOWN_KID_REFETCH_MS + 1_000);
          const fetchesBefore = keys.fetchCount;
          const forged = await Promise.all(
            Array.from(
              { length: ATTACKERS },
              (_, i) => provider.mint({ sub: `forged-${i}` }, { header: { kid: `made-up-${i}` } }),
            ),
          );
          const attack = forged.map((token) => timed(app, "/auth/me", token));
          const anonymous = timed(app, "/roles");
          const genuine = timed(app, "/auth/me", valid);
          const attacked = await Promise.all(attack);
          const [roles, me] = await Promise.all([anonymous, genuine]);
          const slowest = Math.max(...attacked.map((r) => r.ms));
          console.log(
            `  ${ATTACKERS} made-up kids with ${SLOTS} slots: ${
              JSON.stringify(countStatuses(attacked))
            }` +
              `, slowest ${slowest} ms; GET /roles ${roles.status} in ${roles.ms} ms` +
              `; valid token ${me.status} in ${me.ms} ms`,
          );
          assertEquals(countStatuses(attacked), { 401: ATTACKERS });
          assert(slowest < 1_000, `an unknown kid waited ${slowest} ms`);
          assertEquals([roles.status, me.status], [200, 200]);
          assert(roles.ms < 1_000 && me.ms < 1_000, `others waited ${roles.ms} / ${me.ms} ms`);
          // One background refetch for all of them (rate-limited), still hanging on the provider.
          assertEquals(keys.fetchCount, fetchesBefore + 1);
          const deadline = Date.now() + 2_000;
          while (provider.blackholed === 0 && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          assert(provider.blackholed >= 1, "the refetch reached the black hole");
        },
      );

      await t.step("while that refetch hangs, more made-up kids start no other fetch", async () => {
        const fetchesBefore = keys.fetchCount;
        const token = await provider.mint({}, { header: { kid: "made-up-again" } });
        assertEquals((await timed(app, "/auth/me", token)).status, 401);
        assertEquals((await timed(app, "/auth/me", valid)).status, 200);
        assertEquals(keys.fetchCount, fetchesBefore);
      });

      await t.step(
        "a key rotated in later is accepted once the background refetch has it",
        async () => {
          // The provider is back, with a new signing key; the hanging refetch fails when its
          // connection closes, and the last keys stayed in use all along.
          await provider.rotate();
          await keys.settled();
          const rotated = await provider.token("bob-user");
          app.clock.advance(UNKNOWN_KID_REFETCH_MS + 1_000);
          const first = await timed(app, "/auth/me", rotated);
          assertEquals(first.status, 401, "refused at once, not after a fetch");
          assert(first.ms < 1_000, `waited ${first.ms} ms`);
          await keys.settled();
          assertEquals((await timed(app, "/auth/me", rotated)).status, 200);
        },
      );
    } finally {
      await provider.stop();
      await keys.settled();
      await app.close();
    }
  });

  Deno.test(`[${dialect}] A cached verification ends when its key leaves the provider's key set`, async () => {
    const provider = await startTestProvider({ clients: CLIENTS });
    const app = await createTestApp(dialect, {
      env: { OIDC_ISSUER: provider.issuer, OIDC_AUDIENCE: provider.audience },
    });
    const keys = app.oidc!.keys;
    const verifier = app.oidc!.authenticator.verifier;
    try {
      const old = await provider.token("bob-user");
      assertEquals((await timed(app, "/auth/me", old)).status, 200);
      assertEquals((await timed(app, "/auth/me", old)).status, 200, "served from the cache");
      assertEquals(verifier.cachedCount, 1);

      // The provider drops the old key; a token of the new one makes the service refetch.
      await provider.rotate();
      app.clock.advance(UNKNOWN_KID_REFETCH_MS + 1_000);
      const fresh = await provider.token("bob-user");
      assertEquals((await timed(app, "/auth/me", fresh)).status, 401);
      await keys.settled();
      assertEquals(verifier.cachedCount, 0, "the old key's verification was dropped");
      assertEquals((await timed(app, "/auth/me", old)).status, 401, "the old key is gone");
      assertEquals((await timed(app, "/auth/me", fresh)).status, 200);
    } finally {
      await provider.stop();
      await keys.settled();
      await app.close();
    }
  });
}

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

Deno.test("A verification is trusted without a check for at most OIDC_MAX_TOKEN_CACHE_TTL, and a lifetime beyond OIDC_MAX_TOKEN_LIFETIME is refused", async (t) => {
  const provider = await startTestProvider({ clients: CLIENTS });
  const clock = new ManualClock(new Date());
  const keys = new OidcKeyStore({ issuer: provider.issuer, clock });
  try {
    assert(await keys.refresh());
    const now = Math.floor(clock.now().getTime() / 1000);

    await t.step("a token valid for hours is checked again after the cache TTL", async () => {
      const verifier = new OidcTokenVerifier(oidcConfig(provider), keys.resolver, clock);
      const token = await provider.mint({ iat: now, exp: now + 3 * 3600 });
      assertEquals((await verifier.verify(token)).ok, true);
      clock.advance(4 * 60_000);
      const within = await verifier.verify(token);
      assert(within.ok && within.cached, "cached within the TTL");
      clock.advance(61_000);
      const after = await verifier.verify(token);
      assert(after.ok && !after.cached, "verified again after 5 minutes");
    });

    await t.step("OIDC_MAX_TOKEN_CACHE_TTL=0s caches nothing", async () => {
      const verifier = new OidcTokenVerifier(
        oidcConfig(provider, { maxTokenCacheTtlMs: 0 }),
        keys.resolver,
        clock,
      );
      const token = await provider.mint({});
      for (let i = 0; i < 2; i++) {
        const outcome = await verifier.verify(token);
        assert(outcome.ok && !outcome.cached);
      }
      assertEquals(verifier.cachedCount, 0);
    });

    await t.step(
      "a correctly signed token with exp 1e20 is refused, not trusted for ever",
      async () => {
        const verifier = new OidcTokenVerifier(oidcConfig(provider), keys.resolver, clock);
        const iat = Math.floor(clock.now().getTime() / 1000);
        assertEquals(await verifier.verify(await provider.mint({ iat, exp: 1e20 })), {
          ok: false,
          reason: "lifetime",
        });
        assertEquals(
          await verifier.verify(await provider.mint({ iat: undefined, exp: 1e20 })),
          { ok: false, reason: "lifetime" },
          "without iat, exp counts from now",
        );
        assertEquals(verifier.cachedCount, 0);
      },
    );

    await t.step(
      "a lifetime of exactly the maximum is accepted, one second more is not",
      async () => {
        const verifier = new OidcTokenVerifier(
          oidcConfig(provider, { maxTokenLifetimeMs: 3_600_000 }),
          keys.resolver,
          clock,
        );
        const iat = Math.floor(clock.now().getTime() / 1000);
        assert((await verifier.verify(await provider.mint({ iat, exp: iat + 3600 }))).ok);
        assertEquals(await verifier.verify(await provider.mint({ iat, exp: iat + 3601 })), {
          ok: false,
          reason: "lifetime",
        });
      },
    );
  } finally {
    keys.stop();
    await provider.stop();
  }
});
