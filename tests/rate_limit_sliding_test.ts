/**
 * The sliding-window algorithm of the rate limiter: no bursts across a window edge, exact
 * `Retry-After`, the same answers from the memory store and the Redis script, and one limit
 * across instances sharing Redis.
 */
// deno-lint-ignore no-import-prefix -- test-only: kept out of deno.json so the service never fetches it (docs/decisions.md)
import fc from "npm:fast-check@^4.10.2";
import { Redis } from "ioredis";
import { ManualClock } from "@/runtime/clock.ts";
import { MemoryRateLimitStore } from "@/runtime/rate-limit/memory-store.ts";
import { RedisRateLimitStore } from "@/runtime/rate-limit/redis-store.ts";
import type { Limit, RateLimitStore } from "@/runtime/rate-limit/store.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, type TestApp } from "./helpers/app.ts";

const TEST_REDIS_URL = Deno.env.get("TEST_REDIS_URL") || undefined;
const START = new Date("2026-01-01T00:00:00.000Z");

type StoreFactory = (
  clock: ManualClock,
) => Promise<{ store: RateLimitStore; cleanup(): Promise<void> }>;

const memoryStore: StoreFactory = (clock) => {
  const store = new MemoryRateLimitStore({ clock });
  return Promise.resolve({ store, cleanup: () => store.close() });
};

const redisStore: StoreFactory = async (clock) => {
  const keyPrefix = `items-api-test-${crypto.randomUUID()}:`;
  const store = new RedisRateLimitStore({ url: TEST_REDIS_URL!, keyPrefix, clock });
  assert(await store.ready(2_000), "the test Redis is not reachable");
  return {
    store,
    async cleanup() {
      await store.close();
      await deleteKeys(TEST_REDIS_URL!, keyPrefix);
    },
  };
};

const STORES: [string, StoreFactory][] = TEST_REDIS_URL
  ? [["memory", memoryStore], ["redis", redisStore]]
  : [["memory", memoryStore]];

/** Delete every key under `prefix` in the shared test Redis. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
  await redis.quit();
}

/** The most admitted hits any half-open interval of `windowMs` holds. */
function busiestWindow(admittedAt: readonly number[], windowMs: number): number {
  let most = 0;
  let first = 0;
  for (let last = 0; last < admittedAt.length; last++) {
    while (admittedAt[first]! <= admittedAt[last]! - windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

/** Replay hits at `offsets` (ms after START, ascending) on `key`; the times admitted. */
async function replay(
  store: RateLimitStore,
  clock: ManualClock,
  key: string,
  limit: Limit,
  offsets: readonly number[],
): Promise<{ admittedAt: number[]; answers: string[] }> {
  const admittedAt: number[] = [];
  const answers: string[] = [];
  for (const offset of offsets) {
    clock.advance(START.getTime() + offset - clock.now().getTime());
    const state = await store.hit(key, limit);
    if (state.admitted) admittedAt.push(offset);
    answers.push(`${state.admitted ? "+" : "-"}${state.count}/${state.waitMs}`);
  }
  return { admittedAt, answers };
}

/** The burst: 1 request, then 9 just before the window edge and 10 just after. */
function edgeBurst(windowMs: number): number[] {
  return [0, ...Array(9).fill(windowMs - 100), ...Array(10).fill(windowMs + 100)];
}

for (const [kind, factory] of STORES) {
  Deno.test(`[${kind}] the edge burst (1, then 9 before the window edge and 10 after) admits at most the limit`, async () => {
    const clock = new ManualClock(START);
    const { store, cleanup } = await factory(clock);
    try {
      const limit = { max: 10, windowMs: 60_000 };
      const { admittedAt } = await replay(store, clock, "edge", limit, edgeBurst(limit.windowMs));
      const inBurst = admittedAt.filter((t) => t >= limit.windowMs - 100).length;
      console.log(
        `${kind}: ${admittedAt.length} of 20 admitted, ${inBurst} of the 19 sent within 0.2 s ` +
          `(fixed windows: 19); busiest 60 s: ${busiestWindow(admittedAt, limit.windowMs)}`,
      );
      // The first request has left the window by the edge: one slot is free again, no more.
      assertEquals(inBurst, 10);
      assertEquals(busiestWindow(admittedAt, limit.windowMs), 10);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`[${kind}] no window-length interval ever holds more than the limit (random traffic)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1_000, max: 120_000 }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 60 }),
        async (max, windowMs, gaps) => {
          const clock = new ManualClock(START);
          const { store, cleanup } = await factory(clock);
          try {
            let at = 0;
            const offsets = gaps.map((gap) => (at += gap));
            const limit = { max, windowMs };
            const { admittedAt } = await replay(store, clock, "prop", limit, offsets);
            assert(busiestWindow(admittedAt, windowMs) <= max, `over ${max}: ${admittedAt}`);
            // Conservative by at most one slot: a refused hit had `max` admitted within the
            // window plus one slot before it.
            const slot = Math.ceil(windowMs / 20);
            for (const offset of offsets.filter((o) => !admittedAt.includes(o))) {
              const recent = admittedAt.filter((t) => t <= offset && t > offset - windowMs - slot);
              assert(recent.length >= max, `refused at ${offset} with ${recent.length} recent`);
            }
          } finally {
            await cleanup();
          }
        },
      ),
      { numRuns: kind === "redis" ? 40 : 300 },
    );
  });
}

Deno.test({
  name: "the Redis script and the memory store give the same answers to the same traffic",
  ignore: !TEST_REDIS_URL,
  fn: async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1_000, max: 90_000 }),
        fc.array(fc.integer({ min: 0, max: 15_000 }), { minLength: 1, maxLength: 40 }),
        async (max, windowMs, gaps) => {
          let at = 0;
          const offsets = gaps.map((gap) => (at += gap));
          const limit = { max, windowMs };
          const answers: string[][] = [];
          for (const factory of [memoryStore, redisStore]) {
            const clock = new ManualClock(START);
            const { store, cleanup } = await factory(clock);
            try {
              answers.push((await replay(store, clock, "same", limit, offsets)).answers);
            } finally {
              await cleanup();
            }
          }
          assertEquals(answers[1], answers[0]);
        },
      ),
      { numRuns: 40 },
    );
  },
});

/** A request from `address` (the socket peer `Deno.serve` would report). */
async function get(t: TestApp, address: string, path = "/roles"): Promise<Response> {
  const res = await t.app.request(path, {}, {
    remoteAddr: { transport: "tcp", hostname: address, port: 50_000 },
  });
  await res.body?.cancel();
  return res;
}

for (const redis of TEST_REDIS_URL ? [false, true] : [false]) {
  const label = redis ? "redis" : "memory";
  Deno.test(`[${label}] Retry-After is honoured to the second`, async (t) => {
    const env: Record<string, string> = { RATE_LIMIT_API_MAX: "3", RATE_LIMIT_API_WINDOW: "1m" };
    const prefix = `items-api-test-${crypto.randomUUID()}:`;
    if (redis) Object.assign(env, { REDIS_URL: TEST_REDIS_URL!, REDIS_KEY_PREFIX: prefix });
    const app = await createTestApp("sqlite", { env, clock: new ManualClock(START) });
    try {
      for (const [i, spacingMs] of [1_234, 7_777, 19_999].entries()) {
        await t.step(`hits ${spacingMs} ms apart`, async () => {
          const address = `203.0.113.${i + 1}`;
          for (let n = 0; n < 3; n++) {
            assertEquals((await get(app, address)).status, 200);
            app.clock.advance(spacingMs);
          }
          const limited = await get(app, address);
          assertEquals(limited.status, 429);
          const retryAfter = Number(limited.headers.get("retry-after"));
          assert(retryAfter >= 1, `Retry-After ${retryAfter}`);
          assertEquals(limited.headers.get("ratelimit"), `"api";r=0;t=${retryAfter}`);
          // A second early is still too early (and says so: one more second) ...
          app.clock.advance((retryAfter - 1) * 1000);
          const early = await get(app, address);
          assertEquals(early.status, 429);
          assertEquals(early.headers.get("retry-after"), "1");
          // ... and on time is admitted.
          app.clock.advance(1000);
          assertEquals((await get(app, address)).status, 200);
        });
      }
    } finally {
      await app.close();
      if (redis) await deleteKeys(TEST_REDIS_URL!, prefix);
    }
  });
}

Deno.test({
  name: "two app instances sharing Redis enforce one sliding limit through the edge burst",
  ignore: !TEST_REDIS_URL,
  fn: async () => {
    const prefix = `items-api-test-${crypto.randomUUID()}:`;
    const env = {
      REDIS_URL: TEST_REDIS_URL!,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMIT_API_MAX: "10",
      RATE_LIMIT_API_WINDOW: "1m",
    };
    const clock = new ManualClock(START);
    const a = await createTestApp("sqlite", { env, clock });
    const b = await createTestApp("sqlite", { env, clock });
    try {
      assertEquals(b.deps.rateLimiter.store.kind, "redis");
      const admitted: number[] = [];
      let n = 0;
      for (const offset of edgeBurst(60_000)) {
        clock.advance(START.getTime() + offset - clock.now().getTime());
        // Alternate instances: one client, two instances, one budget.
        const res = await get(n++ % 2 === 0 ? a : b, "198.51.100.200");
        if (res.status === 200) admitted.push(offset);
        else assertEquals(res.status, 429);
      }
      assertEquals(admitted.length, 11);
      assertEquals(busiestWindow(admitted, 60_000), 10);
    } finally {
      await a.close();
      await b.close();
      await deleteKeys(TEST_REDIS_URL!, prefix);
    }
  },
});
