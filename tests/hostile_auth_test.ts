/**
 * Issue 13, items 2–5 and 13: limits an outsider (or the holder of a stolen access token) used
 * to walk around — docs Basic guesses, the hash queue, `current_password`, look-alike usernames,
 * random bearer tokens, `/readyz`, and renames as a username oracle.
 */
import type { TokenAuthenticator } from "@/middleware/authenticator.ts";
import { toAppError } from "@/app.ts";
import { DEFAULT_ARGON2_PARAMS, hashQueueLimits, PasswordHasher } from "@/runtime/passwords.ts";
import { foldLoginName } from "@/middleware/rate-limit.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import {
  createTestApp,
  expectProblem,
  TEST_ADMIN,
  TEST_ARGON2,
  type TestApp,
} from "./helpers/app.ts";
import { bearer, createUser, login, uniqueUsername } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";

const SECRET = "test-secret-key-that-is-at-least-32-characters";

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
    { method, headers, body: init.json === undefined ? undefined : JSON.stringify(init.json) },
    { remoteAddr: { transport: "tcp", hostname: address, port: 50_000 } },
  ));
}

function basic(username: string, password: string): Record<string, string> {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  return { Authorization: `Basic ${btoa(String.fromCharCode(...bytes))}` };
}

async function statusOf(res: Response | Promise<Response>): Promise<number> {
  const answered = await res;
  await answered.body?.cancel();
  return answered.status;
}

function tally(statuses: readonly number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

Deno.test("the hash queue serves clients round-robin and refuses work beyond its bounds at once", async () => {
  const hasher = new PasswordHasher(SECRET, TEST_ARGON2, 1, {
    maxWaiting: 3,
    maxWaitingPerClient: 2,
  });
  const phc = await hasher.hash("correct horse battery staple");
  // Hold every derivation until released, so the queue's state is known at each step.
  const subtle = crypto.subtle;
  const original = subtle.deriveBits;
  const gates: Array<() => void> = [];
  subtle.deriveBits = async function (this: SubtleCrypto, ...args) {
    await new Promise<void>((resolve) => gates.push(resolve));
    return await original.apply(this, args);
  } as typeof subtle.deriveBits;
  try {
    const done: string[] = [];
    const verify = (label: string, client: string) =>
      hasher.verify("guess", phc, { client }).then(() => done.push(label));
    const a = [verify("a1", "A"), verify("a2", "A"), verify("a3", "A")];
    const refusedClient = await verify("a4", "A").then(() => undefined, (e: unknown) => e);
    assertEquals(toAppError(refusedClient)?.status, 429, "a 4th waiting hash of A is 429");
    const b = verify("b1", "B");
    const refusedFull = await verify("c1", "C").then(() => undefined, (e: unknown) => e);
    const full = toAppError(refusedFull);
    assertEquals(full?.status, 503, "a full queue is 503");
    assertEquals(full?.headers["Retry-After"], "1");
    // Release one derivation at a time until all four ran.
    while (done.length < 4) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      gates.shift()?.();
    }
    await Promise.all([...a, b]);
    // B came after three of A's, but waited behind only one of them.
    assertEquals(done, ["a1", "a2", "b1", "a3"]);
  } finally {
    subtle.deriveBits = original;
  }
  // Everything drained: the queue takes work again.
  await hasher.verify("guess", phc, { client: "C" });
});

Deno.test("foldLoginName() folds look-alikes of a username onto it", () => {
  for (
    const name of ["ａｄｍｉｎ", "àdmin", "ad\u200bmin", "ADMIN", " Admin ", "a\u0301dmin\ufe0f"]
  ) {
    assertEquals(foldLoginName(name), "admin", JSON.stringify(name));
  }
  assertEquals(foldLoginName("x".repeat(10_000)).length, 128);
});

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] 60 parallel wrong docs Basic guesses evaluate at most the login limit`, async () => {
    const t = await createTestApp(dialect, {
      env: { DOCS_AUTH: "basic", RATE_LIMIT_LOGIN_MAX: "10", RATE_LIMIT_LOGIN_IP_MAX: "1000" },
    });
    try {
      const statuses = await Promise.all(
        Array.from(
          { length: 60 },
          (_, i) =>
            statusOf(from(t, "203.0.113.60", "GET", "/openapi.json", {
              headers: basic(TEST_ADMIN.username, `wrong-${i}`),
            })),
        ),
      );
      assertEquals(tally(statuses), { 401: 10, 429: 50 });
      // The right password is refused too now, and says nothing about the password.
      await expectProblem(
        await from(t, "203.0.113.60", "GET", "/openapi.json", {
          headers: basic(TEST_ADMIN.username, TEST_ADMIN.password),
        }),
        429,
      );
      // The same count as POST /auth/token: guesses cannot be split between the two.
      await expectProblem(
        await from(t, "203.0.113.60", "POST", "/auth/token", {
          json: { username: TEST_ADMIN.username, password: TEST_ADMIN.password },
        }),
        429,
      );
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] a real login during a burst of docs guesses is not queued behind the burst's hashes`, async () => {
    const t = await createTestApp(dialect, {
      env: { DOCS_AUTH: "basic", RATE_LIMIT_LOGIN_MAX: "1000", RATE_LIMIT_LOGIN_IP_MAX: "1000" },
    });
    try {
      // One hashing slot and production-cost dummy hashes, so the burst really queues.
      const hasher = new PasswordHasher(
        t.config.auth.secretKey,
        DEFAULT_ARGON2_PARAMS,
        1,
        hashQueueLimits(16),
      );
      await hasher.warmUp();
      (t.deps as { passwords: PasswordHasher }).passwords = hasher;
      const finished: string[] = [];
      const burst = Array.from(
        { length: 40 },
        (_, i) =>
          from(t, "203.0.113.40", "GET", "/openapi.json", {
            headers: basic("nobody-here", `guess-${i}`),
          }).then(async (res) => {
            finished.push(`burst ${res.status}`);
            return await statusOf(res);
          }),
      );
      await new Promise((resolve) => setTimeout(resolve, 0));
      const real = from(t, "198.51.100.40", "POST", "/auth/token", {
        json: { username: TEST_ADMIN.username, password: TEST_ADMIN.password },
      }).then(async (res) => {
        finished.push(`login ${res.status}`);
        return await statusOf(res);
      });
      const [statuses, realStatus] = await Promise.all([Promise.all(burst), real]);
      assertEquals(realStatus, 200);
      const counts = tally(statuses);
      // The burst's excess was refused at once (this client's share of the queue is 4).
      assert((counts[429] ?? 0) >= 30, `burst answers ${JSON.stringify(counts)}`);
      assertEquals((counts[401] ?? 0) + (counts[429] ?? 0), 40);
      // The login overtook the burst's waiting hashes instead of queueing behind them.
      const after = finished.slice(finished.indexOf("login 200") + 1);
      assert(
        after.filter((s) => s === "burst 401").length >= 1,
        `completion order: ${finished.join(", ")}`,
      );
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] wrong current_password guesses count against that user's login limit`, async () => {
    const t = await createTestApp(dialect, {
      env: { RATE_LIMIT_LOGIN_MAX: "10", RATE_LIMIT_LOGIN_IP_MAX: "1000" },
    });
    try {
      const alice = await createUser(t);
      const change = (address: string, current_password: string) =>
        from(t, address, "PATCH", `/users/${alice.id}`, {
          headers: bearer(alice.token),
          json: { password: "a-brand-new-password", current_password },
        });
      for (let i = 1; i <= 10; i++) {
        await expectProblem(await change("203.0.113.3", `wrong-guess-${i}`), 403);
      }
      const eleventh = await change("203.0.113.3", "wrong-guess-11");
      const body = await expectProblem(eleventh, 429);
      assert(eleventh.headers.get("retry-after"), "429 carries Retry-After");
      assert(String(body.detail).startsWith("Too many password attempts"));
      // From another address too (the stolen token gains nothing by moving), and even right.
      await expectProblem(await change("198.51.100.3", alice.password), 429);
      // The same count as POST /auth/token for that user from that address.
      await expectProblem(
        await from(t, "203.0.113.3", "POST", "/auth/token", {
          json: { username: alice.username, password: alice.password },
        }),
        429,
      );
      // The password never changed; after the window the owner may change it.
      t.clock.advance(15 * 60_000);
      const ok = await change("203.0.113.3", alice.password);
      assertEquals(ok.status, 200, await ok.text());
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] look-alike usernames never reach the database and share the real name's limit`, async (s) => {
    const t = await createTestApp(dialect, {
      env: { DOCS_AUTH: "basic", RATE_LIMIT_LOGIN_MAX: "3", RATE_LIMIT_LOGIN_IP_MAX: "1000" },
    });
    try {
      const lookAlikes = ["ａｄｍｉｎ", "àdmin", "ad\u200bmin", "admin\u0000", "admin "];
      const queried: unknown[][] = [];
      const query = t.deps.db.query.bind(t.deps.db);
      t.deps.db.query = ((sql: string, params: unknown[] = []) => {
        queried.push(params);
        return query(sql, params as never);
      }) as typeof t.deps.db.query;
      const unknownBody = await expectProblem(
        await from(t, "198.51.100.90", "POST", "/auth/token", {
          json: { username: "nobody-at-all", password: TEST_ADMIN.password },
        }),
        401,
      );
      for (const [i, name] of lookAlikes.entries()) {
        await s.step(`${JSON.stringify(name)} with the admin's password is 401`, async () => {
          const body = await expectProblem(
            await from(t, `198.51.100.${i + 1}`, "POST", "/auth/token", {
              json: { username: name, password: TEST_ADMIN.password },
            }),
            401,
          );
          assertEquals(body.detail, unknownBody.detail);
          assertEquals(body.code, unknownBody.code);
          assert(!queried.some((params) => params.includes(name)), "the name reached the database");
        });
      }
      await s.step("docs Basic refuses them the same way", async () => {
        await expectProblem(
          await from(t, "198.51.100.50", "GET", "/openapi.json", {
            headers: basic("ａｄｍｉｎ", TEST_ADMIN.password),
          }),
          401,
        );
        const ok = await from(t, "198.51.100.50", "GET", "/openapi.json", {
          headers: basic(TEST_ADMIN.username, TEST_ADMIN.password),
        });
        assertEquals(await statusOf(ok), 200);
      });
      await s.step("guesses under look-alike names use up the real name's limit", async () => {
        const address = "203.0.113.77";
        for (const name of lookAlikes.slice(0, 3)) {
          await expectProblem(
            await from(t, address, "POST", "/auth/token", {
              json: { username: name, password: "wrong-password" },
            }),
            401,
          );
        }
        await expectProblem(
          await from(t, address, "POST", "/auth/token", {
            json: { username: TEST_ADMIN.username, password: TEST_ADMIN.password },
          }),
          429,
        );
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] failed token authentication is limited per address before any lookup`, async () => {
    const t = await createTestApp(dialect, {
      env: { RATE_LIMIT_AUTH_FAILURE_MAX: "5", RATE_LIMIT_AUTH_FAILURE_WINDOW: "1m" },
    });
    try {
      const alice = await createUser(t);
      let lookups = 0;
      const authenticators = t.deps.authenticators as TokenAuthenticator[];
      const session = authenticators.at(-1)!;
      authenticators.splice(authenticators.length - 1, 1, {
        method: session.method,
        accepts: (token) => session.accepts(token),
        authenticate: (token, c) => {
          lookups++;
          return session.authenticate(token, c);
        },
      });
      // A client that never failed costs no look at the failure count.
      const peeked: string[] = [];
      const limiter = t.deps.rateLimiter;
      const peek = limiter.peek.bind(limiter);
      limiter.peek = (policy, key) => {
        peeked.push(`${policy.name}:${key}`);
        return peek(policy, key);
      };
      assertEquals(
        await statusOf(
          from(t, "198.51.100.77", "GET", "/auth/me", { headers: bearer(alice.token) }),
        ),
        200,
      );
      assertEquals(peeked.filter((k) => k.startsWith("auth-failure:")), []);
      lookups = 0;
      const attacker = "203.0.113.5";
      const guess = () => from(t, attacker, "GET", "/auth/me", { headers: bearer(randomToken()) });
      for (let i = 0; i < 5; i++) await expectProblem(await guess(), 401);
      assertEquals(lookups, 5);
      for (let i = 0; i < 20; i++) {
        const limited = await guess();
        const body = await expectProblem(limited, 429);
        assertEquals(body.code, "rate_limited");
        assert(limited.headers.get("retry-after"), "429 carries Retry-After");
      }
      assertEquals(lookups, 5, "no lookup once the address is over its limit");
      // Tokens no authenticator accepts count too, without any I/O.
      await expectProblem(
        await from(t, "203.0.113.6", "GET", "/auth/me", { headers: bearer("x") }),
        401,
      );
      // Another address is not affected, nor is a valid token from it.
      await expectProblem(
        await from(t, "198.51.100.5", "GET", "/auth/me", { headers: bearer(randomToken()) }),
        401,
      );
      assertEquals(
        await statusOf(
          from(t, "198.51.100.5", "GET", "/auth/me", { headers: bearer(alice.token) }),
        ),
        200,
      );
      // After the window the address authenticates again.
      t.clock.advance(60_000);
      assertEquals(
        await statusOf(from(t, attacker, "GET", "/auth/me", { headers: bearer(alice.token) })),
        200,
      );
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] /readyz pings the database at most a few times per second however often it is asked`, async () => {
    const t = await createTestApp(dialect);
    try {
      let pings = 0;
      const ping = t.deps.db.ping.bind(t.deps.db);
      t.deps.db.ping = (timeoutMs: number) => {
        pings++;
        return ping(timeoutMs);
      };
      const parallel = await Promise.all(
        Array.from({ length: 200 }, () => statusOf(t.request("GET", "/readyz"))),
      );
      assertEquals(tally(parallel), { 200: 200 });
      const started = performance.now();
      let asked = 0;
      while (performance.now() - started < 500) {
        assertEquals(await statusOf(t.request("GET", "/readyz")), 200);
        asked++;
      }
      const seconds = (performance.now() - started) / 1000;
      assert(asked > 20, `only ${asked} sequential probes`);
      // One ping for the parallel wave, then at most four per second.
      assert(pings <= 1 + 4 * Math.ceil(seconds + 1), `${pings} pings for ${200 + asked} probes`);
      // A probe after a quiet second gets a fresh answer: an outage shows at once.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const before = pings;
      assertEquals(await statusOf(t.request("GET", "/readyz")), 200);
      assertEquals(pings, before + 1);
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] a non-admin's renames are limited, so a 409 cannot enumerate usernames`, async () => {
    const t = await createTestApp(dialect, {
      env: { RATE_LIMIT_RENAME_MAX: "3", RATE_LIMIT_RENAME_WINDOW: "24h" },
    });
    try {
      const alice = await createUser(t);
      const bob = await createUser(t);
      const rename = (username: string) =>
        t.request("PATCH", `/users/${alice.id}`, {
          headers: bearer(alice.token),
          json: { username },
        });
      await expectProblem(await rename(bob.username), 409);
      const free = uniqueUsername("alice");
      assertEquals(await statusOf(rename(free)), 200);
      await expectProblem(await rename(TEST_ADMIN.username), 409);
      // Used up: taken and free names get the same 429.
      for (const name of [bob.username, uniqueUsername("free")]) {
        const limited = await rename(name);
        await expectProblem(limited, 429);
        assert(limited.headers.get("retry-after"), "429 carries Retry-After");
      }
      // Keeping one's own name is no attempt at all; other changes still work.
      assertEquals(await statusOf(rename(free)), 200);
      // Admins (who can list users anyway) are not limited.
      const admin = await createUser(t, { role: "admin" });
      for (let i = 0; i < 5; i++) {
        const res = await t.request("PATCH", `/users/${admin.id}`, {
          headers: bearer(admin.token),
          json: { username: uniqueUsername("adm") },
        });
        assertEquals(await statusOf(res), 200);
      }
      t.clock.advance(24 * 3_600_000);
      const fresh = await login(t, free, alice.password);
      const later = await t.request("PATCH", `/users/${alice.id}`, {
        headers: bearer(fresh.access_token),
        json: { username: uniqueUsername("later") },
      });
      assertEquals(await statusOf(later), 200);
    } finally {
      await t.close();
    }
  });
}
