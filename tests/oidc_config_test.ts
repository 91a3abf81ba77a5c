import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { ConfigError, parseConfig } from "@/config.ts";

const BASE = { APP_ENV: "test" };

Deno.test("parseConfig() leaves provider tokens off while OIDC_ISSUER is unset", () => {
  assertEquals(parseConfig(BASE).oidc, undefined);
});

Deno.test("parseConfig() reads the OIDC_* variables with their defaults", async (t) => {
  await t.step("only issuer and audience set", () => {
    const config = parseConfig({
      ...BASE,
      OIDC_ISSUER: "https://id.example.com/realms/main",
      OIDC_AUDIENCE: "items-api",
    });
    assertEquals(config.oidc, {
      issuer: "https://id.example.com/realms/main",
      audience: "items-api",
      rolesClaim: "roles",
      adminRole: "admin",
      usernameClaim: "preferred_username",
      clockToleranceMs: 30_000,
      maxTokenCacheTtlMs: 5 * 60_000,
      maxTokenLifetimeMs: 24 * 3_600_000,
    });
    assert(Object.isFrozen(config.oidc));
  });
  await t.step("every variable set", () => {
    const config = parseConfig({
      ...BASE,
      OIDC_ISSUER: "https://tenant.auth0.com/",
      OIDC_AUDIENCE: "https://items-api.example.com",
      OIDC_ROLES_CLAIM: "https://items-api.example.com/roles",
      OIDC_ADMIN_ROLE: "items-admin",
      OIDC_USERNAME_CLAIM: "email",
      OIDC_CLOCK_TOLERANCE: "5s",
      OIDC_MAX_TOKEN_CACHE_TTL: "0s",
      OIDC_MAX_TOKEN_LIFETIME: "2h",
    });
    assertEquals(config.oidc?.issuer, "https://tenant.auth0.com/", "kept exactly, slash included");
    assertEquals(config.oidc?.rolesClaim, "https://items-api.example.com/roles");
    assertEquals(config.oidc?.adminRole, "items-admin");
    assertEquals(config.oidc?.usernameClaim, "email");
    assertEquals(config.oidc?.clockToleranceMs, 5_000);
    assertEquals(config.oidc?.maxTokenCacheTtlMs, 0, "0s: no verification is cached");
    assertEquals(config.oidc?.maxTokenLifetimeMs, 7_200_000);
  });
  await t.step("a dot path as the roles claim", () => {
    const config = parseConfig({
      ...BASE,
      OIDC_ISSUER: "http://127.0.0.1:8081/realms/dev",
      OIDC_AUDIENCE: "account",
      OIDC_ROLES_CLAIM: "realm_access.roles",
    });
    assertEquals(config.oidc?.rolesClaim, "realm_access.roles");
  });
});

Deno.test("parseConfig() refuses bad OIDC_* values at startup", async (t) => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ["an issuer without an audience", { OIDC_ISSUER: "https://id.example.com" }, "OIDC_AUDIENCE"],
    ["an audience without an issuer", { OIDC_AUDIENCE: "items-api" }, "OIDC_AUDIENCE"],
    ["an issuer that is no URL", {
      OIDC_ISSUER: "id.example.com",
      OIDC_AUDIENCE: "a",
    }, "OIDC_ISSUER"],
    ["a plain-http issuer off loopback", {
      OIDC_ISSUER: "http://id.example.com",
      OIDC_AUDIENCE: "a",
    }, "OIDC_ISSUER"],
    ["an issuer with a query", {
      OIDC_ISSUER: "https://id.example.com/?tenant=1",
      OIDC_AUDIENCE: "a",
    }, "OIDC_ISSUER"],
    ["an issuer longer than 255 characters", {
      OIDC_ISSUER: `https://id.example.com/${"x".repeat(250)}`,
      OIDC_AUDIENCE: "a",
    }, "OIDC_ISSUER"],
    ["an issuer with non-ASCII characters", {
      OIDC_ISSUER: "https://id.exämple.com",
      OIDC_AUDIENCE: "a",
    }, "OIDC_ISSUER"],
    ["a roles claim with spaces", {
      OIDC_ISSUER: "https://id.example.com",
      OIDC_AUDIENCE: "a",
      OIDC_ROLES_CLAIM: "realm access",
    }, "OIDC_ROLES_CLAIM"],
    ["an empty dot-path segment", {
      OIDC_ISSUER: "https://id.example.com",
      OIDC_AUDIENCE: "a",
      OIDC_USERNAME_CLAIM: "a..b",
    }, "OIDC_USERNAME_CLAIM"],
    ["a tolerance that is no duration", {
      OIDC_ISSUER: "https://id.example.com",
      OIDC_AUDIENCE: "a",
      OIDC_CLOCK_TOLERANCE: "30",
    }, "OIDC_CLOCK_TOLERANCE"],
    ["a tolerance above 5 minutes", {
      OIDC_ISSUER: "https://id.example.com",
      OIDC_AUDIENCE: "a",
      OIDC_CLOCK_TOLERANCE: "1h",
    }, "OIDC_CLOCK_TOLERANCE"],
    ["a token cache TTL that is no duration", {
      OIDC_ISSUER: "https://id.example.com",
      OIDC_AUDIENCE: "a",
      OIDC_MAX_TOKEN_CACHE_TTL: "5 minutes",
    }, "OIDC_MAX_TOKEN_CACHE_TTL"],
    ["a token cache TTL above 1 hour", {
      OIDC_ISSUER: "https://id.example.com",
      OIDC_AUDIENCE: "a",
      OIDC_MAX_TOKEN_CACHE_TTL: "2h",
    }, "OIDC_MAX_TOKEN_CACHE_TTL"],
    ["a token lifetime that is no duration", {
      OIDC_ISSUER: "https://id.example.com",
      OIDC_AUDIENCE: "a",
      OIDC_MAX_TOKEN_LIFETIME: "-1h",
    }, "OIDC_MAX_TOKEN_LIFETIME"],
    ["a token lifetime under 1 minute", {
      OIDC_ISSUER: "https://id.example.com",
      OIDC_AUDIENCE: "a",
      OIDC_MAX_TOKEN_LIFETIME: "30s",
    }, "OIDC_MAX_TOKEN_LIFETIME"],
    ["a token lifetime above 31 days", {
      OIDC_ISSUER: "https://id.example.com",
      OIDC_AUDIENCE: "a",
      OIDC_MAX_TOKEN_LIFETIME: "365d",
    }, "OIDC_MAX_TOKEN_LIFETIME"],
  ];
  for (const [name, env, variable] of cases) {
    await t.step(name, () => {
      const error = assertThrows(() => parseConfig({ ...BASE, ...env }), ConfigError);
      assert(
        error.problems.some((p) => p.startsWith(`${variable}:`)),
        `${variable} named in ${JSON.stringify(error.problems)}`,
      );
    });
  }
});
