import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { ConfigError, parseConfig } from "@/config.ts";

Deno.test("parseConfig() applies the documented defaults in development", () => {
  const config = parseConfig({});
  assertEquals(config.env, "development");
  assertEquals(config.http.host, "127.0.0.1");
  assertEquals(config.http.port, 8080);
  assertEquals(config.http.metricsPort, 8000);
  assertEquals(config.database.url, "sqlite:./data/items-api.db");
  assertEquals(config.auth.accessTokenTtlMs, 2 * 3_600_000);
  assertEquals(config.auth.refreshTokenTtlMs, 30 * 86_400_000);
  assertEquals(config.admin, { username: "admin", password: "admin" });
  assertEquals(config.docsAuth, "none");
  assertEquals(config.log.format, "pretty");
  assert(config.warnings.some((w) => w.includes("SECRET_KEY")));
  assert(Object.isFrozen(config) && Object.isFrozen(config.http));
});

Deno.test("parseConfig() listens on loopback unless in production or HOST is set", () => {
  const host = (env: Record<string, string>) => parseConfig(env).http.host;
  assertEquals(host({}), "127.0.0.1");
  assertEquals(host({ APP_ENV: "development" }), "127.0.0.1");
  assertEquals(host({ APP_ENV: "test" }), "127.0.0.1");
  assertEquals(host({ APP_ENV: "development", HOST: "" }), "127.0.0.1");
  assertEquals(host({ APP_ENV: "development", HOST: "0.0.0.0" }), "0.0.0.0");
  assertEquals(host({ APP_ENV: "test", HOST: "::" }), "::");
  const production = {
    APP_ENV: "production",
    DATABASE_URL: "mysql://u:p@db:3306/items",
    SECRET_KEY: "k7Qp2vX9mZr4Tb8Ln3Wc6Yd1Hf5Js0Ga",
    ADMIN_PASSWORD: "a-long-production-password",
  };
  assertEquals(host(production), "0.0.0.0");
  assertEquals(host({ ...production, HOST: "10.0.0.5" }), "10.0.0.5");
});

Deno.test("parseConfig() parses durations, lists and booleans", () => {
  const config = parseConfig({
    ACCESS_TOKEN_TTL: "15m",
    REFRESH_TOKEN_TTL: "7d",
    CORS_ORIGINS: "https://a.example, http://localhost:3000",
    TRUST_PROXY: "true",
    APP_ENV: "test",
  });
  assertEquals(config.auth.accessTokenTtlMs, 900_000);
  assertEquals(config.auth.refreshTokenTtlMs, 7 * 86_400_000);
  assertEquals(config.http.corsOrigins, ["https://a.example", "http://localhost:3000"]);
  assertEquals(config.http.trustProxy.enabled, true);
  assertEquals(config.log.format, "json");
});

Deno.test("parseConfig() names every bad variable in one error", () => {
  const error = assertThrows(
    () =>
      parseConfig({
        PORT: "eighty",
        ACCESS_TOKEN_TTL: "2x",
        DATABASE_URL: "postgres://x",
        TRUST_PROXY: "maybe",
        CORS_ORIGINS: "not a url",
      }),
    ConfigError,
  );
  const text = error.message;
  for (const name of ["PORT", "ACCESS_TOKEN_TTL", "DATABASE_URL", "TRUST_PROXY", "CORS_ORIGINS"]) {
    assert(text.includes(name), `${name} missing from: ${text}`);
  }
  assert(text.includes('Cannot parse duration "2x"'));
  assertEquals(error.problems.length, 5);
});

Deno.test("parseConfig() refuses unsafe defaults in production", async (t) => {
  await t.step("missing DATABASE_URL and SECRET_KEY", () => {
    const error = assertThrows(() => parseConfig({ APP_ENV: "production" }), ConfigError);
    assert(error.message.includes("DATABASE_URL"));
    assert(error.message.includes("SECRET_KEY"));
  });
  await t.step("a short SECRET_KEY", () => {
    const error = assertThrows(
      () =>
        parseConfig({
          APP_ENV: "production",
          DATABASE_URL: "mysql://u:p@db:3306/app",
          SECRET_KEY: "short",
        }),
      ConfigError,
    );
    assert(error.message.includes("SECRET_KEY: Must be at least 32 characters"));
  });
  await t.step("the default admin password", () => {
    const error = assertThrows(
      () =>
        parseConfig({
          APP_ENV: "production",
          DATABASE_URL: "mysql://u:p@db:3306/app",
          SECRET_KEY: "k7Qp2vX9mZr4Tb8Ln3Wc6Yd1Hf5Js0Ga",
          ADMIN_PASSWORD: "admin",
        }),
      ConfigError,
    );
    assert(error.message.includes("ADMIN_PASSWORD"));
  });
  await t.step("a complete production config passes, with no admin password default", () => {
    const config = parseConfig({
      APP_ENV: "production",
      DATABASE_URL: "mysql://u:p@db:3306/app",
      SECRET_KEY: "k7Qp2vX9mZr4Tb8Ln3Wc6Yd1Hf5Js0Ga",
    });
    assertEquals(config.admin.password, undefined);
    assertEquals(config.docsAuth, "basic");
    assertEquals(config.log.format, "json");
  });
});

Deno.test("a bad variable stops `serve` with exit code 1 and names it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli.ts", "serve"],
    env: { PORT: "99999", LOG_LEVEL: "loud" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1);
  assert(stderr.includes("PORT"), stderr);
  assert(stderr.includes("LOG_LEVEL"), stderr);
});
