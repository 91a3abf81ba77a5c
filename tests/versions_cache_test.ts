import type { Database } from "@/db/database.ts";
import { migrate } from "@/db/migrate.ts";
import { ManualClock } from "@/runtime/clock.ts";
import {
  buildSnapshot,
  type ClientVersion,
  compareVersions,
  VersionsCache,
} from "@/modules/versions/client-versions.ts";
import { loadVersions } from "@/modules/versions/versions.service.ts";
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { createTestDatabase, DIALECTS } from "./helpers/databases.ts";
import { captureLogs } from "./helpers/logs.ts";

function record(version: string, overrides: Partial<ClientVersion> = {}): ClientVersion {
  return {
    id: Math.floor(Math.random() * 1e9),
    version,
    supported: true,
    deprecated: false,
    deprecated_at: null,
    sunset_at: null,
    ...overrides,
  };
}

Deno.test("compareVersions() orders numerically, pre-releases before releases", () => {
  const sorted = ["1.10", "0.9", "1.9", "1.10-rc1", "1.2.3", "1.2", "2.0-beta", "1.10-rc2"]
    .sort(compareVersions);
  assertEquals(sorted, ["0.9", "1.2", "1.2.3", "1.9", "1.10-rc1", "1.10-rc2", "1.10", "2.0-beta"]);
  assertEquals(compareVersions("1.0", "1.0"), 0);
});

Deno.test("buildSnapshot() computes each version's policy once", () => {
  const now = new Date("2026-03-01T00:00:00Z");
  const snapshot = buildSnapshot([
    record("0.9", { supported: false }),
    record("1.0", {
      deprecated: true,
      deprecated_at: "2026-01-15T12:00:00.500Z",
      sunset_at: "2026-07-01T00:00:00.000Z",
    }),
    record("1.1"),
    record("1.2", { sunset_at: "2026-02-01T00:00:00.000Z" }),
    record("2.0", { deprecated: true, deprecated_at: null }),
  ], now);
  const v10 = snapshot.policies.get("1.0")!;
  assertEquals(v10.deprecation, `@${Date.parse("2026-01-15T12:00:00Z") / 1000}`);
  assertEquals(v10.sunset, "Wed, 01 Jul 2026 00:00:00 GMT");
  assertEquals(snapshot.policies.get("1.1")!.deprecation, undefined);
  assertEquals(snapshot.policies.get("2.0")!.deprecation, "@0", "deprecated by hand, no date");
  assertEquals(snapshot.usable, ["2.0", "1.1", "1.0"], "1.2 is past its sunset, 0.9 retired");
  assertEquals(snapshot.latest, "1.1", "the highest version that is not deprecated");
  assertEquals(buildSnapshot([record("1.0", { supported: false })], now).latest, null);
  assertEquals(buildSnapshot([record("1.0", { deprecated: true })], now).latest, "1.0");
});

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] VersionsCache loads once for concurrent first readers`, async () => {
    const t = await createTestDatabase(dialect);
    try {
      await migrate(t.db);
      let queries = 0;
      const counting = {
        query: (sql: string, params?: readonly never[]) => {
          queries++;
          return t.db.query(sql, params);
        },
        execute: t.db.execute.bind(t.db),
      } as Database;
      const cache = new VersionsCache({
        load: () => loadVersions(counting),
        refreshMs: 60_000,
        clock: new ManualClock(),
      });
      assertEquals(cache.snapshot, undefined);
      const [a, b, c] = await Promise.all([cache.load(), cache.load(), cache.load()]);
      assertEquals(queries, 1);
      assert(a === b && b === c);
      assertEquals(a.latest, "1.0");
      await cache.load();
      assertEquals(queries, 1, "a loaded cache answers from memory");
    } finally {
      await t.drop();
    }
  });

  Deno.test(`[${dialect}] a reload that started before a local change never undoes it`, async () => {
    const t = await createTestDatabase(dialect);
    try {
      await migrate(t.db);
      // A reload that starts while `held` is set finishes only when `release()` is called.
      let held: Promise<void> | undefined;
      let release!: () => void;
      const slow = {
        query: async (sql: string, params?: readonly never[]) => {
          const wait = held;
          const rows = await t.db.query(sql, params);
          if (wait) await wait;
          return rows;
        },
        execute: t.db.execute.bind(t.db),
      } as Database;
      const cache = new VersionsCache({
        load: () => loadVersions(slow),
        refreshMs: 60_000,
        clock: new ManualClock(),
      });
      await cache.refresh();
      held = new Promise<void>((resolve) => (release = resolve));
      const stale = cache.refresh(); // reads the table as it is now: 1.0 supported
      held = undefined;
      const v10 = cache.snapshot!.versions.find((v) => v.version === "1.0")!;
      cache.apply({ ...v10, supported: false });
      release();
      const after = await stale;
      assertEquals(after.policies.get("1.0")?.supported, false);
      assertEquals(cache.snapshot!.policies.get("1.0")?.supported, false);
    } finally {
      await t.drop();
    }
  });

  Deno.test(
    `[${dialect}] a failing reload keeps the last table and warns once per outage`,
    async () => {
      const t = await createTestDatabase(dialect, { file: true });
      const logs = await captureLogs();
      let failing = false;
      let attempts = 0;
      const flaky = {
        query: (sql: string, params?: readonly never[]) => {
          attempts++;
          return failing ? Promise.reject(new Error("connection lost")) : t.db.query(sql, params);
        },
        execute: t.db.execute.bind(t.db),
      } as Database;
      const cache = new VersionsCache({
        load: () => loadVersions(flaky),
        refreshMs: 10,
        clock: new ManualClock(),
      });
      try {
        await migrate(t.db);
        await cache.start();
        const loaded = cache.snapshot;
        assertEquals(loaded?.latest, "1.0");
        failing = true;
        const waitFor = async (condition: () => boolean, what: string) => {
          const deadline = Date.now() + 10_000;
          while (!condition()) {
            if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        };
        const base = attempts;
        await waitFor(() => attempts >= base + 3, "three failed reloads");
        assert(cache.snapshot === loaded, "the last table is still enforced");
        const warnings = () =>
          logs.filter((r) => r.level === "warning" && r.category.includes("versions")).length;
        assertEquals(warnings(), 1);
        failing = false;
        await waitFor(() => cache.snapshot !== loaded, "a successful reload");
        assertEquals(cache.snapshot?.latest, "1.0");
        await assertRejects(async () => {
          failing = true;
          await cache.refresh();
        }, Error);
      } finally {
        await cache.stop();
        await t.drop();
      }
    },
  );
}
