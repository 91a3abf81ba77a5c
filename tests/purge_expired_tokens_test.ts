import { ConfigError } from "@/config.ts";
import type { Database } from "@/db/database.ts";
import { migrate } from "@/db/migrate.ts";
import { ManualClock } from "@/runtime/clock.ts";
import { createMetrics } from "@/runtime/metrics.ts";
import {
  purgeExpiredSessions,
  runTokenPurge,
  scheduleTokenPurge,
  TOKEN_PURGE_LOCK,
} from "@/cron/purge-expired-tokens.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./helpers/assert.ts";
import { createTestDatabase, DIALECTS } from "./helpers/databases.ts";
import { captureLogs, logText } from "./helpers/logs.ts";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const EXPIRED = 2_500;
const LIVE = 1_500;
const ROWS_PER_INSERT = 500;

/** Insert a user and `expired` + `live` sessions for it in multi-row INSERTs; returns the user id. */
async function seedSessions(db: Database, expired: number, live: number): Promise<number> {
  const { insertId: userId } = await db.execute(
    "INSERT INTO users (username, password_hash, role_id, activated, created_at, updated_at) VALUES (?, ?, 2, ?, ?, ?)",
    [`purge-${crypto.randomUUID().slice(0, 8)}`, "not-a-real-hash", true, NOW, NOW],
  );
  // Expired: from 30 days ago up to exactly now (refresh expiry <= now counts as expired).
  // Live: from 1 ms after now up to 30 days ahead.
  const expiries: Date[] = [];
  for (let i = 0; i < expired; i++) {
    expiries.push(new Date(NOW.getTime() - Math.floor((i / expired) * 30 * 86_400_000)));
  }
  for (let i = 0; i < live; i++) {
    expiries.push(new Date(NOW.getTime() + 1 + Math.floor((i / live) * 30 * 86_400_000)));
  }
  // Interleave expired and live rows so batches are not simply the lowest ids.
  expiries.sort(() => Math.random() - 0.5);
  await db.transaction(async (tx) => {
    for (let start = 0; start < expiries.length; start += ROWS_PER_INSERT) {
      const chunk = expiries.slice(start, start + ROWS_PER_INSERT);
      const params = chunk.flatMap((refreshExpiresAt, j) => {
        const n = start + j;
        return [
          userId,
          `a${n.toString(16).padStart(63, "0")}`,
          new Date(Math.min(refreshExpiresAt.getTime(), NOW.getTime())),
          `r${n.toString(16).padStart(63, "0")}`,
          refreshExpiresAt,
          NOW,
          NOW,
        ];
      });
      await tx.execute(
        `INSERT INTO sessions (user_id, access_token_hash, access_expires_at, refresh_token_hash, refresh_expires_at, created_at, last_used_at) VALUES ${
          chunk.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", ")
        }`,
        params,
      );
    }
  });
  return userId;
}

async function countSessions(db: Database): Promise<{ expired: number; live: number }> {
  const [row] = await db.query<{ expired: number; live: number }>(
    "SELECT SUM(CASE WHEN refresh_expires_at <= ? THEN 1 ELSE 0 END) AS expired, SUM(CASE WHEN refresh_expires_at > ? THEN 1 ELSE 0 END) AS live FROM sessions",
    [NOW, NOW],
  );
  return { expired: Number(row?.expired ?? 0), live: Number(row?.live ?? 0) };
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] purgeExpiredSessions deletes every expired session and no live one, in batches`, async () => {
    const database = await createTestDatabase(dialect);
    try {
      const { db } = database;
      await migrate(db);
      await seedSessions(db, EXPIRED, LIVE);
      assertEquals(await countSessions(db), { expired: EXPIRED, live: LIVE });

      const batches: number[] = [];
      const started = performance.now();
      const deleted = await purgeExpiredSessions(db, new ManualClock(NOW), {
        batchSize: 1000,
        onBatch: (n) => void batches.push(n),
      });
      const ms = Math.round(performance.now() - started);
      console.log(`${dialect}: purged ${deleted} of ${EXPIRED + LIVE} sessions in ${ms} ms`);

      assertEquals(deleted, EXPIRED);
      assertEquals(batches, [1000, 1000, 500]);
      assertEquals(await countSessions(db), { expired: 0, live: LIVE });
      // Nothing left to do: a second run deletes nothing.
      assertEquals(await purgeExpiredSessions(db, new ManualClock(NOW)), 0);
      // Once the clock passes every expiry, the rest goes too.
      const later = new ManualClock(NOW);
      later.advance(31 * 86_400_000);
      assertEquals(await purgeExpiredSessions(db, later, { batchSize: 700 }), LIVE);
      assertEquals(await countSessions(db), { expired: 0, live: 0 });
    } finally {
      await database.drop();
    }
  });

  Deno.test(`[${dialect}] purgeExpiredSessions rejects a batch size that is not a positive whole number`, async () => {
    const database = await createTestDatabase(dialect);
    try {
      await migrate(database.db);
      for (const batchSize of [0, -1, 1.5]) {
        await assertRejects(
          () => purgeExpiredSessions(database.db, new ManualClock(NOW), { batchSize }),
          RangeError,
        );
      }
    } finally {
      await database.drop();
    }
  });

  Deno.test(`[${dialect}] runTokenPurge logs its count and records the run in the metrics`, async () => {
    const logs = await captureLogs();
    const database = await createTestDatabase(dialect);
    try {
      const { db } = database;
      await migrate(db);
      await seedSessions(db, 1_200, 300);
      const metrics = createMetrics({ version: "test" });
      const result = await runTokenPurge({ db, clock: new ManualClock(NOW), metrics });
      assertEquals(result, { ran: true, deleted: 1_200 });

      const line = logs.find((r) => r.properties.deleted === 1_200);
      assert(line, `no log line with the count: ${logText(logs)}`);
      assertEquals(line.level, "info");
      assertEquals(line.category, ["items-api", "cron", "purge-tokens"]);

      const text = await metrics.render();
      assert(text.includes('token_purge_runs_total{outcome="completed"} 1'), text);
      assert(text.includes("token_purge_deleted_sessions_total 1200"), text);
      assert(/token_purge_last_success_timestamp_seconds 1772366400\b/.test(text), text);
    } finally {
      await database.drop();
    }
  });

  Deno.test(`[${dialect}] a purge started while another holds the lock is skipped, not run twice`, async () => {
    const logs = await captureLogs();
    const database = await createTestDatabase(dialect);
    try {
      await migrate(database.db);
      await seedSessions(database.db, EXPIRED, LIVE);
      // Two "instances": on MySQL two pools; SQLite belongs to one process, so one handle.
      const first = database.db;
      const second = dialect === "mysql" ? database.open() : database.db;
      const metrics = createMetrics({ version: "test" });
      const clock = new ManualClock(NOW);

      let secondResult: Awaited<ReturnType<typeof runTokenPurge>> | undefined;
      const firstResult = await runTokenPurge({ db: first, clock, metrics }, {
        batchSize: 500,
        // While the first purge is between batches (holding the lock), the second one tries.
        onBatch: async () => {
          secondResult ??= await runTokenPurge({ db: second, clock, metrics });
        },
      });

      assertEquals(secondResult, { ran: false, reason: "locked" });
      assertEquals(firstResult, { ran: true, deleted: EXPIRED });
      assertEquals(await countSessions(first), { expired: 0, live: LIVE });
      const text = await metrics.render();
      assert(text.includes('token_purge_runs_total{outcome="skipped"} 1'), text);
      assert(text.includes('token_purge_runs_total{outcome="completed"} 1'), text);
      assert(
        logs.some((r) => r.properties.lock === TOKEN_PURGE_LOCK),
        `the skipped run was not logged: ${logText(logs)}`,
      );
    } finally {
      await database.drop();
    }
  });
}

Deno.test("runTokenPurge logs and counts a failed run, then rethrows", async () => {
  const logs = await captureLogs();
  const database = await createTestDatabase("sqlite");
  const metrics = createMetrics({ version: "test" });
  // No migrations: the sessions table does not exist.
  try {
    await assertRejects(
      () => runTokenPurge({ db: database.db, clock: new ManualClock(NOW), metrics }),
      Error,
    );
    assert(
      logs.some((r) => r.level === "error" && String(r.message).includes("Token purge failed")),
      logText(logs),
    );
    assert((await metrics.render()).includes('token_purge_runs_total{outcome="failed"} 1'));
  } finally {
    await database.drop();
  }
});

Deno.test("scheduleTokenPurge registers a Deno.cron job and rejects an invalid schedule", async () => {
  const database = await createTestDatabase("sqlite");
  try {
    const deps = { db: database.db, clock: new ManualClock(NOW) };
    const invalid = assertThrows(() => scheduleTokenPurge(deps, "99 * * * *"), ConfigError);
    assertEquals(invalid.problems, [
      'TOKEN_PURGE_CRON: Cannot use "99 * * * *": Invalid cron schedule',
    ]);
    const scheduled = scheduleTokenPurge(deps, "0 * * * *");
    // The name is taken while it is registered, and free again once stopped.
    assertThrows(() => scheduleTokenPurge(deps, "0 * * * *"), ConfigError);
    await scheduled.stop();
    await scheduleTokenPurge(deps, "30 * * * *").stop();
  } finally {
    await database.drop();
  }
});
