import { Redis } from "ioredis";
import { ConfigError, parseConfig } from "@/config.ts";
import { ManualClock } from "@/runtime/clock.ts";
import { MemoryRateLimitStore } from "@/runtime/rate-limit/memory-store.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./helpers/assert.ts";
import { createTestApp, expectProblem, TEST_ADMIN, type TestApp } from "./helpers/app.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { captureLogs, logText } from "./helpers/logs.ts";
import { freePort } from "./helpers/process.ts";

const TEST_REDIS_URL = Deno.env.get("TEST_REDIS_URL") || undefined;
if (!TEST_REDIS_URL) {
  console.log(
    "Redis rate-limit tests skipped: set TEST_REDIS_URL=redis://127.0.0.1:6379 to run them",
  );
}

/** A request from `address` (the socket peer `Deno.serve` would report). */
function from(
  t: TestApp,
  address: string,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; json?: unknown } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.json !== undefined) headers["Content-Type"] = "application/json";
  return Promise.resolve(t.app.request(
    path,
    {
      method,
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    },
    { remoteAddr: { transport: "tcp", hostname: address, port: 50_000 } },
  ));
}

async function drain(res: Response): Promise<Response> {
  await res.body?.cancel();
  return res;
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function loginFrom(t: TestApp, address: string, password: string): Promise<Response> {
  return await from(t, address, "POST", "/auth/token", {
    json: { username: TEST_ADMIN.username, password },
  });
}

Deno.test("MemoryRateLimitStore counts hits in a sliding window and frees them one slot at a time", async () => {
  const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
  const store = new MemoryRateLimitStore({ clock });
  const limit = { max: 2, windowMs: 60_000 };
  assertEquals(await store.hit("k", limit), { admitted: true, count: 1, waitMs: 60_000 });
  clock.advance(20_000);
  // Counted in the slot starting at 21 s (3 s slots): it leaves the window at 81 s.
  assertEquals(await store.hit("k", limit), { admitted: true, count: 2, waitMs: 40_000 });
  assertEquals(await store.hit("k", limit), { admitted: false, count: 2, waitMs: 40_000 });
  assertEquals(await store.peek("k", limit), { admitted: false, count: 2, waitMs: 40_000 });
  assertEquals(await store.hit("other", limit), { admitted: true, count: 1, waitMs: 60_000 });
  clock.advance(40_000);
  assertEquals(await store.peek("k", limit), { admitted: true, count: 1, waitMs: 21_000 });
  assertEquals(await store.hit("k", limit), { admitted: true, count: 2, waitMs: 21_000 });
  await store.delete("k");
  assertEquals(await store.peek("k", limit), { admitted: true, count: 0, waitMs: 60_000 });
});

Deno.test("MemoryRateLimitStore stays bounded: expired keys are swept, the oldest dropped", async () => {
  const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
  const store = new MemoryRateLimitStore({ clock, maxKeys: 1_000 });
  const limit = { max: 10, windowMs: 60_000 };
  for (let i = 0; i < 5_000; i++) await store.hit(`flood:${i}`, limit);
  assertEquals(store.size, 1_000);
  // The newest keys survive; the oldest went first.
  assertEquals((await store.peek("flood:4999", limit)).count, 1);
  assertEquals((await store.peek("flood:0", limit)).count, 0);
  // Once every hit has left its window, the next hit sweeps them all.
  clock.advance(61_000);
  await store.hit("after", limit);
  assertEquals(store.size, 1);
});

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] anonymous requests are limited per client address with 429 and RateLimit headers`, async () => {
    const t = await createTestApp(dialect, {
      env: { RATE_LIMIT_API_MAX: "3", RATE_LIMIT_API_WINDOW: "1m" },
    });
    try {
      for (let i = 1; i <= 3; i++) {
        const res = await drain(await from(t, "203.0.113.1", "GET", "/roles"));
        assertEquals(res.status, 200);
        assertEquals(res.headers.get("ratelimit-policy"), '"api";q=3;w=60');
        assertEquals(res.headers.get("ratelimit"), `"api";r=${3 - i};t=60`);
      }
      const limited = await from(t, "203.0.113.1", "GET", "/roles");
      const body = await expectProblem(limited, 429);
      assertEquals(body.code, "rate_limited");
      assertEquals(body.retry_after, 60);
      assertEquals(limited.headers.get("retry-after"), "60");
      assertEquals(limited.headers.get("ratelimit-policy"), '"api";q=3;w=60');
      assertEquals(limited.headers.get("ratelimit"), '"api";r=0;t=60');
      assert(limited.headers.get("x-request-id"), "the 429 carries the request id");

      // Another address has its own budget; the probes are never limited.
      assertEquals((await drain(await from(t, "203.0.113.2", "GET", "/roles"))).status, 200);
      const probe = await drain(await from(t, "203.0.113.1", "GET", "/livez"));
      assertEquals(probe.status, 200);
      assertEquals(probe.headers.get("ratelimit"), null);
      // Unknown paths count too (no free probing).
      await expectProblem(await from(t, "203.0.113.1", "GET", "/no/such/path"), 429);

      // The window ends: the address may call again.
      t.clock.advance(30_000);
      const later = await drain(await from(t, "203.0.113.1", "GET", "/roles"));
      assertEquals(later.status, 429);
      assertEquals(later.headers.get("retry-after"), "30");
      t.clock.advance(30_000);
      assertEquals((await drain(await from(t, "203.0.113.1", "GET", "/roles"))).status, 200);

      const text = await t.deps.metrics.render();
      assertEquals(metricValue(text, 'rate_limited_requests_total{scope="api"}'), 3);
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] authenticated requests are limited per user, not per address`, async () => {
    const t = await createTestApp(dialect, {
      env: { RATE_LIMIT_API_MAX: "4", RATE_LIMIT_API_WINDOW: "1m" },
    });
    try {
      // The login itself is anonymous: it uses one of the address's 4.
      const login = await loginFrom(t, "198.51.100.7", TEST_ADMIN.password);
      assertEquals(login.status, 200);
      const { access_token } = await login.json() as { access_token: string };
      const auth = { Authorization: `Bearer ${access_token}` };

      for (let i = 1; i <= 4; i++) {
        // Two addresses, one user: one budget.
        const address = i % 2 === 0 ? "198.51.100.7" : "198.51.100.8";
        const res = await drain(await from(t, address, "GET", "/auth/me", { headers: auth }));
        assertEquals(res.status, 200);
        assertEquals(res.headers.get("ratelimit"), `"api";r=${4 - i};t=60`);
      }
      const limited = await from(t, "198.51.100.9", "GET", "/auth/me", { headers: auth });
      await expectProblem(limited, 429);
      assertEquals(limited.headers.get("ratelimit-policy"), '"api";q=4;w=60');

      // The address's anonymous budget is untouched by the user's requests (3 of 4 left).
      for (let i = 0; i < 3; i++) {
        assertEquals((await drain(await from(t, "198.51.100.7", "GET", "/roles"))).status, 200);
      }
      await expectProblem(await from(t, "198.51.100.7", "GET", "/roles"), 429);
      // A request without a valid token to an authenticated route is 401, never 429.
      await expectProblem(
        await from(t, "198.51.100.7", "GET", "/auth/me", {
          headers: { Authorization: "Bearer x" },
        }),
        401,
      );
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] X-Forwarded-For names the client only when TRUST_PROXY=true`, async () => {
    for (const trustProxy of [false, true]) {
      const t = await createTestApp(dialect, {
        env: {
          RATE_LIMIT_API_MAX: "2",
          TRUST_PROXY: String(trustProxy),
        },
      });
      try {
        // One socket peer (the proxy), a different client address in each request.
        const statuses: number[] = [];
        for (let i = 0; i < 4; i++) {
          const res = await drain(
            await from(t, "10.0.0.2", "GET", "/roles", {
              headers: { "X-Forwarded-For": `192.0.2.77, 203.0.113.${i + 10}` },
            }),
          );
          statuses.push(res.status);
        }
        // Trusted: each request is its own client (the last entry, added by the proxy).
        // Untrusted: the header is ignored and every request is the proxy's address.
        assertEquals(statuses, trustProxy ? [200, 200, 200, 200] : [200, 200, 429, 429]);
        if (trustProxy) {
          // A client cannot pick its key by sending its own X-Forwarded-For entries first.
          for (let i = 0; i < 3; i++) {
            const res = await drain(
              await from(t, "10.0.0.2", "GET", "/roles", {
                headers: { "X-Forwarded-For": `198.51.100.${i}, 203.0.113.200` },
              }),
            );
            assertEquals(res.status, i < 2 ? 200 : 429);
          }
        }
      } finally {
        await t.close();
      }
    }
  });

  Deno.test(`[${dialect}] login attempts are limited per username and address, then per address`, async () => {
    const t = await createTestApp(dialect, {
      env: {
        RATE_LIMIT_LOGIN_MAX: "3",
        RATE_LIMIT_LOGIN_IP_MAX: "8",
        RATE_LIMIT_LOGIN_WINDOW: "15m",
      },
    });
    try {
      const attacker = "203.0.113.66";
      for (let i = 0; i < 3; i++) await expectProblem(await loginFrom(t, attacker, "wrong-1"), 401);
      // Used up: even the right password is refused, and the answer says nothing about it.
      const limited = await loginFrom(t, attacker, TEST_ADMIN.password);
      const body = await expectProblem(limited, 429);
      assertStringIncludes(String(body.detail), "Too many login attempts");
      assertEquals(limited.headers.get("retry-after"), "900");
      // The general API limit (anonymous, per address) applies to the login route too.
      assertEquals(
        limited.headers.get("ratelimit-policy"),
        '"api";q=100000000;w=60, "login";q=3;w=900, "login-address";q=8;w=900',
      );
      assertEquals(
        limited.headers.get("ratelimit"),
        '"api";r=99999996;t=60, "login";r=0;t=900, "login-address";r=4;t=900',
      );
      // The username is case-folded: "ADMIN" is the same account.
      await expectProblem(
        await from(t, attacker, "POST", "/auth/token", {
          json: { username: "ADMIN", password: TEST_ADMIN.password },
        }),
        429,
      );

      // The owner, from another address, is not locked out.
      assertEquals(
        (await drain(await loginFrom(t, "198.51.100.1", TEST_ADMIN.password))).status,
        200,
      );

      // A success clears that username+address's failures.
      const owner = "198.51.100.2";
      for (let i = 0; i < 2; i++) await expectProblem(await loginFrom(t, owner, "typo"), 401);
      assertEquals((await drain(await loginFrom(t, owner, TEST_ADMIN.password))).status, 200);
      for (let i = 0; i < 3; i++) await expectProblem(await loginFrom(t, owner, "typo"), 401);
      await expectProblem(await loginFrom(t, owner, "typo"), 429);

      // Spraying many usernames from one address hits the per-address limit (8).
      const sprayer = "203.0.113.99";
      for (let i = 0; i < 8; i++) {
        await expectProblem(
          await from(t, sprayer, "POST", "/auth/token", {
            json: { username: `user${i}`, password: "guess-123" },
          }),
          401,
        );
      }
      await expectProblem(
        await from(t, sprayer, "POST", "/auth/token", {
          json: { username: "user99", password: "guess-123" },
        }),
        429,
      );

      // After the window, the attacker's address may try again.
      t.clock.advance(15 * 60_000);
      assertEquals((await drain(await loginFrom(t, attacker, TEST_ADMIN.password))).status, 200);

      const text = await t.deps.metrics.render();
      assertEquals(metricValue(text, 'rate_limited_requests_total{scope="login"}'), 3);
      assertEquals(metricValue(text, 'rate_limited_requests_total{scope="login_address"}'), 1);
      // Refused attempts never reached the password check.
      assertEquals(metricValue(text, 'auth_logins_total{outcome="failure"}'), 3 + 2 + 3 + 8);
      assertEquals(metricValue(text, 'auth_logins_total{outcome="success"}'), 3);
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] HTTP Basic on the docs shares the login limit`, async () => {
    const t = await createTestApp(dialect, {
      env: { DOCS_AUTH: "basic", RATE_LIMIT_LOGIN_MAX: "3", RATE_LIMIT_LOGIN_IP_MAX: "100" },
    });
    try {
      const basic = (password: string) => ({
        Authorization: `Basic ${btoa(`${TEST_ADMIN.username}:${password}`)}`,
      });
      const address = "203.0.113.31";
      // Two wrong guesses through the docs and one through the token endpoint use up 3.
      for (let i = 0; i < 2; i++) {
        await expectProblem(
          await from(t, address, "GET", "/openapi.json", { headers: basic("nope") }),
          401,
        );
      }
      await expectProblem(await loginFrom(t, address, "nope"), 401);
      await expectProblem(
        await from(t, address, "GET", "/openapi.json", { headers: basic(TEST_ADMIN.password) }),
        429,
      );
      const text = await t.deps.metrics.render();
      assertEquals(metricValue(text, 'rate_limited_requests_total{scope="docs"}'), 1);
      // Another address still gets in.
      const ok = await from(t, "198.51.100.31", "GET", "/openapi.json", {
        headers: basic(TEST_ADMIN.password),
      });
      assertEquals(ok.status, 200);
      await ok.body?.cancel();
    } finally {
      await t.close();
    }
  });
}

/** Delete every key under `prefix` in the shared test Redis. */
async function deleteKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== "0");
  await redis.quit();
  return deleted;
}

const redisTest = (name: string, fn: (url: string) => Promise<void>) =>
  Deno.test({ name, ignore: !TEST_REDIS_URL, fn: () => fn(TEST_REDIS_URL!) });

redisTest("two app instances on one Redis share one API limit and one login limit", async (url) => {
  const prefix = `items-api-test-${crypto.randomUUID()}:`;
  const env = {
    REDIS_URL: url,
    REDIS_KEY_PREFIX: prefix,
    RATE_LIMIT_API_MAX: "4",
    RATE_LIMIT_LOGIN_MAX: "2",
  };
  const a = await createTestApp("sqlite", { env });
  const b = await createTestApp("sqlite", { env });
  try {
    assertEquals(a.deps.rateLimiter.store.kind, "redis");
    const statuses: number[] = [];
    for (const app of [a, b, a, b, a, b]) {
      statuses.push((await drain(await from(app, "203.0.113.50", "GET", "/roles"))).status);
    }
    assertEquals(statuses, [200, 200, 200, 200, 429, 429]);
    const res = await drain(await from(b, "203.0.113.51", "GET", "/roles"));
    assertEquals(res.headers.get("ratelimit"), '"api";r=3;t=60');

    // Login failures on one instance count on the other.
    await expectProblem(await loginFrom(a, "203.0.113.52", "wrong"), 401);
    await expectProblem(await loginFrom(b, "203.0.113.52", "wrong"), 401);
    await expectProblem(await loginFrom(a, "203.0.113.52", TEST_ADMIN.password), 429);
    const text = await a.deps.metrics.render();
    assertEquals(metricValue(text, 'rate_limit_store_errors_total{store="redis"}'), 0);
  } finally {
    await a.close();
    await b.close();
    const deleted = await deleteKeys(url, prefix);
    assert(deleted > 0, "the test wrote no keys under its prefix");
  }
});

redisTest(
  "an unreachable Redis falls back to per-instance limits with an error log and a metric",
  async () => {
    const logs = await captureLogs();
    const closedPort = freePort();
    const t = await createTestApp("sqlite", {
      env: { REDIS_URL: `redis://127.0.0.1:${closedPort}`, RATE_LIMIT_API_MAX: "3" },
    });
    try {
      const started = performance.now();
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await drain(await from(t, "203.0.113.60", "GET", "/roles"))).status);
      }
      const perRequestMs = (performance.now() - started) / 5;
      console.log(`Redis down (connection refused): ${perRequestMs.toFixed(2)} ms per request`);
      assertEquals(statuses, [200, 200, 200, 429, 429]);
      const text = await t.deps.metrics.render();
      // Counted at the first failure; then the store is left alone for a second.
      assert(metricValue(text, 'rate_limit_store_errors_total{store="redis"}')! >= 1, text);
      const errors = logs.filter((r) => r.level === "error" && r.category.includes("rate-limit"));
      // One line for the burst (throttled to one per 30 s), with the reason.
      assertEquals(errors.length, 1, logText(logs));
      assertStringIncludes(logText(errors), "counting in this instance's memory meanwhile");
    } finally {
      await t.close();
    }
  },
);

redisTest(
  "Redis stopping and hanging mid-traffic: requests go on, waiting at most one command timeout",
  async () => {
    const redisServer = "/usr/bin/redis-server";
    try {
      await Deno.stat(redisServer);
    } catch {
      console.log(`SKIPPED: ${redisServer} is not installed`);
      return;
    }
    // Our own redis-server on a free port: the shared one on 6379 is never stopped.
    const port = freePort();
    const start = () =>
      new Deno.Command(redisServer, {
        args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout: "null",
        stderr: "null",
      }).spawn();
    const waitUntil = async (ok: () => Promise<boolean>) => {
      for (let i = 0; i < 100; i++) {
        if (await ok().catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("condition not reached in 5 s");
    };
    const ping = async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    };
    let server = start();
    await waitUntil(ping);
    const logs = await captureLogs();
    const t = await createTestApp("sqlite", {
      env: { REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_API_MAX: "1000" },
    });
    const admin = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1 });
    const timed = async (label: string, n: number) => {
      const statuses = new Set<number>();
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const begin = performance.now();
        statuses.add((await drain(await from(t, "203.0.113.70", "GET", "/roles"))).status);
        times.push(performance.now() - begin);
      }
      times.sort((a, b) => a - b);
      console.log(
        `${label}: ${n} requests, median ${times[n >> 1]!.toFixed(2)} ms, max ${
          times[n - 1]!.toFixed(2)
        } ms`,
      );
      return [...statuses];
    };
    try {
      await waitUntil(async () => (await admin.ping()) === "PONG");
      assertEquals(await timed("Redis up", 20), [200]);
      const errorsUp = metricValue(
        await t.deps.metrics.render(),
        'rate_limit_store_errors_total{store="redis"}',
      );
      assertEquals(errorsUp, 0);

      // A hanging Redis (clients paused): a command times out after 250 ms, then the store is
      // skipped for a second, so only about one request per second waits.
      await admin.call("CLIENT", "PAUSE", "2000", "ALL");
      assertEquals(await timed("Redis paused (commands hang)", 20), [200]);
      await admin.call("CLIENT", "UNPAUSE");

      // Redis stops: commands fail at once, requests go on with in-memory counting.
      const storeErrors = async () =>
        metricValue(await t.deps.metrics.render(), 'rate_limit_store_errors_total{store="redis"}')!;
      const errorsBefore = await storeErrors();
      server.kill("SIGTERM");
      await server.status;
      assertEquals(await timed("Redis stopped", 20), [200]);
      // Once the second without the store has passed, the next request tries it and fails.
      await waitUntil(async () => {
        await drain(await from(t, "203.0.113.70", "GET", "/roles"));
        return await storeErrors() > errorsBefore;
      });
      assert(
        logs.some((r) => r.level === "error" && r.category.includes("rate-limit")),
        logText(logs),
      );

      // Redis comes back: the store is used again after ioredis reconnects.
      server = start();
      await waitUntil(ping);
      const key = "items-api:rls:api:a:203.0.113.71";
      await waitUntil(async () => {
        await drain(await from(t, "203.0.113.71", "GET", "/roles"));
        return (await admin.exists(key)) === 1;
      });
      assertEquals(await timed("Redis back", 20), [200]);
      const keys = await admin.keys("items-api:rls:api:a:203.0.113.70");
      assertEquals(keys.length, 1);
    } finally {
      admin.disconnect();
      await t.close();
      try {
        server.kill("SIGTERM");
      } catch {
        // already stopped
      }
      await server.status;
    }
  },
);

Deno.test("rate-limit settings are read from the environment and checked", () => {
  const config = parseConfig({
    RATE_LIMIT_LOGIN_IP_MAX: "50",
    REDIS_URL: "redis://cache:6379",
    REDIS_KEY_PREFIX: "shop:",
  });
  assertEquals(config.rateLimit.loginAddressMax, 50);
  assertEquals(config.redisKeyPrefix, "shop:");
  assertEquals(parseConfig({}).rateLimit.loginAddressMax, 100);
  assertEquals(parseConfig({}).redisKeyPrefix, "items-api:");
  const error = assertThrows(
    () => parseConfig({ RATE_LIMIT_LOGIN_IP_MAX: "0", REDIS_KEY_PREFIX: "has space" }),
    ConfigError,
  );
  assertEquals(error.problems.length, 2);
  assertStringIncludes(error.message, "RATE_LIMIT_LOGIN_IP_MAX");
  assertStringIncludes(error.message, "REDIS_KEY_PREFIX");
});
