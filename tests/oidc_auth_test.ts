/**
 * Provider access tokens over HTTP, against a real OpenID provider (`oidc-provider`) on
 * loopback: linking to local users, role and scopes from the token, deactivation, the same 401
 * as opaque tokens for every bad token, 503 without keys, key rotation, OpenAPI, metrics and
 * logs.
 */
import { base64url, exportSPKI, importJWK, SignJWT } from "jose";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin } from "./helpers/auth.ts";
import { type Dialect, DIALECTS } from "./helpers/databases.ts";
import { captureLogs, logText } from "./helpers/logs.ts";
import { startTestProvider } from "./helpers/oidc-provider.ts";

const CLIENTS = [
  { id: "ada-admin", claims: { roles: ["admin"], preferred_username: "Ada Admin" } },
  { id: "bob-user", claims: { roles: ["user"], preferred_username: "bob" } },
  // A client the provider itself limits to reading items.
  { id: "reader-app", scope: "items:read", claims: { roles: ["admin"] } },
];

async function setUp(dialect: Dialect, env: Record<string, string> = {}) {
  const provider = await startTestProvider({ clients: CLIENTS });
  const app = await createTestApp(dialect, {
    env: { OIDC_ISSUER: provider.issuer, OIDC_AUDIENCE: provider.audience, ...env },
  });
  return {
    provider,
    app,
    close: async () => {
      await app.close();
      await provider.stop();
    },
  };
}

interface Me {
  id: number;
  username: string;
  role: string;
  role_id: number;
  auth_method: string;
  scopes: string[];
}

async function me(app: TestApp, token: string): Promise<Me> {
  const res = await app.request("GET", "/auth/me", { headers: bearer(token) });
  const text = await res.text();
  assertEquals(res.status, 200, text);
  return JSON.parse(text) as Me;
}

/** `header.payload.` with no signature, as an `alg: none` token is written. */
function unsecured(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const part = (value: unknown) => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(payload)}.`;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] GET /auth/me with a provider JWT links one local user and says how the caller authenticated`, async (t) => {
    const { provider, app, close } = await setUp(dialect);
    try {
      let adaId = 0;
      await t.step("the first token creates the user, with the token's role", async () => {
        const body = await me(app, await provider.token("ada-admin"));
        assertEquals(body.username, "Ada_Admin");
        assertEquals(body.role, "admin");
        assertEquals(body.auth_method, "oidc");
        assertEquals(body.scopes, [
          "audit:read",
          "items:read",
          "items:write",
          "users:read",
          "users:write",
          "versions:write",
        ]);
        adaId = body.id;
      });
      await t.step("a later token of the same client finds the same user", async () => {
        assertEquals((await me(app, await provider.token("ada-admin"))).id, adaId);
      });
      await t.step("a session token says session", async () => {
        const admin = await loginAdmin(app);
        const body = await me(app, admin.access_token);
        assertEquals(body.auth_method, "session");
        assert(body.id !== adaId);
      });
      await t.step("the linked user is an ordinary user record", async () => {
        const admin = await loginAdmin(app);
        const res = await app.request("GET", `/users/${adaId}`, {
          headers: bearer(admin.access_token),
        });
        assertEquals(res.status, 200);
        assertEquals((await res.json()).username, "Ada_Admin");
      });
      await t.step("POST /auth/token never works for a provider-created user", async () => {
        for (const password of ["", "!provider-identity", "anything at all"]) {
          const res = await app.request("POST", "/auth/token", {
            json: { username: "Ada_Admin", password: password || "x" },
          });
          await expectProblem(res, 401);
        }
      });
      await t.step("a username already taken locally gets a suffix", async () => {
        const local = await createUser(app, { username: "bob" });
        const body = await me(app, await provider.token("bob-user"));
        assert(body.id !== local.id);
        assert(/^bob-[a-z0-9]{6}$/.test(body.username), body.username);
        assertEquals(body.role, "user");
      });
    } finally {
      await close();
    }
  });

  Deno.test(`[${dialect}] The role follows the provider's token on every request`, async (t) => {
    const { provider, app, close } = await setUp(dialect);
    try {
      const sub = `person-${crypto.randomUUID()}`;
      const asAdmin = await provider.mint({ sub, roles: ["admin", "staff"], name: "x" });
      const asUser = await provider.mint({ sub, roles: ["staff"] });
      await t.step("with the admin role: admin routes answer", async () => {
        assertEquals((await me(app, asAdmin)).role, "admin");
        const res = await app.request("GET", "/users", { headers: bearer(asAdmin) });
        assertEquals(res.status, 200);
        await res.body?.cancel();
      });
      await t.step("the next token without it: 403, and the stored role follows", async () => {
        const res = await app.request("GET", "/users", { headers: bearer(asUser) });
        await expectProblem(res, 403);
        const body = await me(app, asUser);
        assertEquals(body.role, "user");
        const admin = await loginAdmin(app);
        const stored = await app.request("GET", `/users/${body.id}`, {
          headers: bearer(admin.access_token),
        });
        assertEquals((await stored.json()).role, "user");
      });
      await t.step("the earlier admin token still carries admin (it says so itself)", async () => {
        assertEquals((await me(app, asAdmin)).role, "admin");
      });
    } finally {
      await close();
    }
  });

  Deno.test(`[${dialect}] A dot-path roles claim and another admin role name are honoured`, async () => {
    const { provider, app, close } = await setUp(dialect, {
      OIDC_ROLES_CLAIM: "realm_access.roles",
      OIDC_ADMIN_ROLE: "items-admin",
      OIDC_USERNAME_CLAIM: "email",
    });
    try {
      const token = await provider.mint({
        realm_access: { roles: ["items-admin"] },
        roles: ["user"],
        email: "carol@example.com",
      });
      const body = await me(app, token);
      assertEquals(body.role, "admin");
      assertEquals(body.username, "carol_example.com");
    } finally {
      await close();
    }
  });

  Deno.test(`[${dialect}] A local deactivation wins over a valid provider token`, async () => {
    const { provider, app, close } = await setUp(dialect);
    try {
      const token = await provider.token("bob-user");
      const { id } = await me(app, token);
      const admin = await loginAdmin(app);
      const res = await app.request("DELETE", `/users/${id}`, {
        headers: bearer(admin.access_token),
      });
      assertEquals(res.status, 204);
      // The same (cached) token and a fresh one: both refused.
      for (const t of [token, await provider.token("bob-user")]) {
        const refused = await app.request("GET", "/auth/me", { headers: bearer(t) });
        await expectProblem(refused, 401);
        assertEquals(refused.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
      }
    } finally {
      await close();
    }
  });

  Deno.test(`[${dialect}] A token's scope claim narrows what it may call (403 insufficient_scope)`, async (t) => {
    const { provider, app, close } = await setUp(dialect);
    try {
      const reader = await provider.token("bob-user", { scope: "items:read" });
      await t.step("GET /auth/me lists only the token's scopes", async () => {
        assertEquals((await me(app, reader)).scopes, ["items:read"]);
      });
      await t.step("a route the scope covers answers", async () => {
        const res = await app.request("GET", "/items", { headers: bearer(reader) });
        assertEquals(res.status, 200);
        await res.body?.cancel();
      });
      await t.step("a route it does not cover: 403 naming the scope", async () => {
        const res = await app.request("POST", "/items", {
          headers: bearer(reader),
          json: { name: "not allowed" },
        });
        const problem = await expectProblem(res, 403);
        assertEquals(problem.code, "insufficient_scope");
        assertEquals(
          res.headers.get("www-authenticate"),
          'Bearer error="insufficient_scope", scope="items:write"',
        );
      });
      await t.step("scopes never exceed the role: a user token asking versions:write", async () => {
        const token = await provider.mint({ roles: ["user"], scope: "versions:write items:read" });
        assertEquals((await me(app, token)).scopes, ["items:read"]);
        const res = await app.request("POST", "/versions", {
          headers: bearer(token),
          json: { version: "9.9" },
        });
        await expectProblem(res, 403);
      });
      await t.step("a scope claim naming nothing of this API grants nothing", async () => {
        const token = await provider.mint({ roles: ["admin"], scope: "openid profile" });
        const res = await app.request("GET", "/items", { headers: bearer(token) });
        await expectProblem(res, 403);
      });
      await t.step("a client the provider limits to items:read gets only that", async () => {
        let refused = false;
        await provider.token("reader-app", { scope: "items:read items:write" }).catch(() => {
          refused = true;
        });
        assert(refused, "the provider refuses a scope outside the client's");
        const token = await provider.token("reader-app", { scope: "items:read" });
        const body = await me(app, token);
        assertEquals([body.role, body.scopes], ["admin", ["items:read"]]);
        const res = await app.request("DELETE", "/items/1", { headers: bearer(token) });
        assertEquals((await expectProblem(res, 403)).code, "insufficient_scope");
      });
      await t.step("session-only routes refuse provider tokens", async () => {
        const res = await app.request("GET", "/auth/sessions", {
          headers: bearer(await provider.token("bob-user")),
        });
        await expectProblem(res, 403);
      });
    } finally {
      await close();
    }
  });

  Deno.test(`[${dialect}] Every invalid provider token gets the same 401 invalid_token as an opaque one`, async (t) => {
    const { provider, app, close } = await setUp(dialect);
    try {
      const opaque = await app.request("GET", "/auth/me", {
        headers: bearer("A".repeat(43)),
      });
      const reference = await expectProblem(opaque, 401);
      const now = Math.floor(Date.now() / 1000);
      const publicKey = await importJWK(provider.publicJwk, "RS256", { extractable: true });
      const pem = await exportSPKI(publicKey as Parameters<typeof exportSPKI>[0]);
      const good = await provider.token("bob-user");
      const [h, p, s] = good.split(".") as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
      const other = await startTestProvider({ clients: [{ id: "x" }] });
      await other.stop();

      const cases: Array<[string, () => Promise<string>]> = [
        ["expired", () => provider.mint({ iat: now - 900, exp: now - 600 })],
        ["not yet valid", () => provider.mint({ nbf: now + 600 })],
        ["wrong issuer", () => provider.mint({ iss: other.issuer })],
        ["wrong audience", () => provider.mint({ aud: "https://elsewhere.test" })],
        ["missing sub", () => provider.mint({ sub: undefined })],
        ["alg none", () =>
          Promise.resolve(unsecured({ alg: "none" }, {
            ...claims,
            sub: "mallory",
          }))],
        ["HS256 signed with the public key", () =>
          new SignJWT({ ...claims, sub: "mallory" })
            .setProtectedHeader({ alg: "HS256", kid: provider.kid })
            .sign(new TextEncoder().encode(pem))],
        ["unknown kid", () => other.mint({ iss: provider.issuer })],
        ["tampered payload", () =>
          Promise.resolve(
            `${h}.${base64url.encode(JSON.stringify({ ...claims, roles: ["admin"] }))}.${s}`,
          )],
        ["signature stripped", () => Promise.resolve(`${h}.${p}.`)],
      ];
      for (const [name, make] of cases) {
        await t.step(name, async () => {
          const res = await app.request("GET", "/auth/me", { headers: bearer(await make()) });
          const problem = await expectProblem(res, 401);
          assertEquals(res.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
          assertEquals(problem.detail, reference.detail);
          assertEquals(problem.code, reference.code);
        });
      }
      await t.step("the genuine token still works", async () => {
        assertEquals((await me(app, good)).auth_method, "oidc");
      });
    } finally {
      await close();
    }
  });

  Deno.test(`[${dialect}] Without the provider's keys, JWT requests answer 503 and opaque tokens are unaffected`, async (t) => {
    const provider = await startTestProvider({ clients: CLIENTS });
    const token = await provider.token("bob-user");
    await provider.stop();
    const app = await createTestApp(dialect, {
      env: { OIDC_ISSUER: provider.issuer, OIDC_AUDIENCE: provider.audience },
    });
    try {
      await t.step("startup did not wait for the provider", () => {
        assertEquals(app.oidc?.keys.hasKeys, false);
      });
      await t.step("a provider JWT: 503 problem+json with Retry-After", async () => {
        const res = await app.request("GET", "/items", { headers: bearer(token) });
        const problem = await expectProblem(res, 503);
        assertStringIncludes(String(problem.detail), "identity provider");
        assert(res.headers.get("retry-after"));
      });
      await t.step("a session token works as ever", async () => {
        const admin = await loginAdmin(app);
        assertEquals((await me(app, admin.access_token)).auth_method, "session");
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] The provider restarted with a new key: its new tokens work once one background refetch has the key`, async () => {
    const { provider, app, close } = await setUp(dialect);
    try {
      assertEquals((await me(app, await provider.token("bob-user"))).auth_method, "oidc");
      await provider.rotate();
      app.clock.advance(31_000);
      const before = provider.jwksRequests;
      const fresh = await provider.token("bob-user");
      // Refused at once rather than after a wait for the provider; the refetch runs meanwhile.
      await expectProblem(await app.request("GET", "/auth/me", { headers: bearer(fresh) }), 401);
      await app.oidc!.keys.settled();
      assertEquals((await me(app, fresh)).auth_method, "oidc");
      assertEquals((await me(app, fresh)).auth_method, "oidc");
      assertEquals(provider.jwksRequests, before + 1);
    } finally {
      await close();
    }
  });

  Deno.test(`[${dialect}] Opaque tokens never reach the JWT path, and authentications are counted by method and outcome`, async () => {
    const { provider, app, close } = await setUp(dialect);
    try {
      const cachedBefore = app.oidc!.authenticator.verifier.cachedCount;
      const fetchesBefore = app.oidc!.keys.fetchCount;
      const user = await createUser(app);
      for (const token of [user.token, "B".repeat(43), "x", "a.b"]) {
        await (await app.request("GET", "/auth/me", { headers: bearer(token) })).body?.cancel();
      }
      assertEquals(app.oidc!.authenticator.verifier.cachedCount, cachedBefore);
      assertEquals(app.oidc!.keys.fetchCount, fetchesBefore);

      const jwt = await provider.token("bob-user", { scope: "items:read" });
      await me(app, jwt);
      await (await app.request("POST", "/items", { headers: bearer(jwt), json: { name: "n" } }))
        .body?.cancel();
      const metrics = await app.deps.metrics.render();
      const count = (labels: string) =>
        Number(
          new RegExp(`^auth_authentications_total\\{${labels}\\} (\\d+)`, "m").exec(metrics)?.[1],
        );
      assertEquals(count('method="session",outcome="success"'), 1);
      assertEquals(count('method="session",outcome="invalid"'), 1);
      assertEquals(count('method="unknown",outcome="invalid"'), 2);
      assertEquals(count('method="oidc",outcome="success"'), 1);
      assertEquals(count('method="oidc",outcome="insufficient_scope"'), 1);
    } finally {
      await close();
    }
  });

  Deno.test(`[${dialect}] Logs never contain a provider token`, async () => {
    const logs = await captureLogs();
    const { provider, app, close } = await setUp(dialect);
    try {
      const good = await provider.token("ada-admin");
      const expired = await provider.mint({ exp: Math.floor(Date.now() / 1000) - 600 });
      const [h, p] = good.split(".") as [string, string, string];
      for (const token of [good, expired, `${h}.${p}.`]) {
        await (await app.request("GET", "/items", { headers: bearer(token) })).body?.cancel();
      }
      const text = logText(logs);
      assert(logs.length > 0, "something was logged");
      for (const token of [good, expired]) {
        for (const part of token.split(".")) {
          assert(!text.includes(part), "a token part appears in the logs");
        }
      }
    } finally {
      await close();
    }
  });

  Deno.test(`[${dialect}] The OpenAPI document offers an openIdConnect scheme beside bearer when configured`, async (t) => {
    const { provider, app, close } = await setUp(dialect);
    const plain = await createTestApp(dialect);
    try {
      const doc = await (await app.request("GET", "/openapi.json")).json();
      await t.step("the scheme points at the provider's discovery document", () => {
        assertEquals(doc.components.securitySchemes.oidcAuth, {
          type: "openIdConnect",
          openIdConnectUrl: `${provider.issuer}/.well-known/openid-configuration`,
          description: doc.components.securitySchemes.oidcAuth.description,
        });
        assert(doc.components.securitySchemes.bearerAuth);
      });
      type Requirement = Record<string, string[]>;
      const schemeOf = (security: Requirement[], name: string) =>
        security.find((requirement) => name in requirement)?.[name];
      await t.step("each secured operation takes either scheme with the same scopes", () => {
        for (
          const [path, method, scopes] of [
            ["/items", "post", ["items:write"]],
            ["/users", "get", ["users:read"]],
            ["/auth/me", "get", []],
          ] as const
        ) {
          const security = doc.paths[path][method].security as Requirement[];
          assertEquals(schemeOf(security, "bearerAuth"), [...scopes], `${method} ${path}`);
          assertEquals(schemeOf(security, "oidcAuth"), [...scopes], `${method} ${path}`);
        }
        assertEquals(doc.paths["/auth/token"].post.security, []);
      });
      await t.step("without OIDC_ISSUER there is no such scheme", async () => {
        const other = await (await plain.request("GET", "/openapi.json")).json();
        assertEquals(other.components.securitySchemes.oidcAuth, undefined);
        const security = other.paths["/items"].post.security as Requirement[];
        assertEquals(schemeOf(security, "bearerAuth"), ["items:write"]);
        assertEquals(schemeOf(security, "oidcAuth"), undefined);
      });
    } finally {
      await plain.close();
      await close();
    }
  });
}
