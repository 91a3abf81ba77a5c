import mysql from "mysql2/promise";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin } from "./helpers/auth.ts";
import { createTestDatabase, DIALECTS } from "./helpers/databases.ts";
import { DatabaseUnavailableError } from "@/db/database.ts";
import { capStatement, flavorOf } from "@/db/mysql-limits.ts";
import { DeadlineQueue } from "@/runtime/deadlines.ts";
import { QueryBudget } from "@/runtime/query-budget.ts";
import { seedScale } from "../bench/scale-seed.ts";

const HAS_MYSQL = DIALECTS.includes("mysql");

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] GET /items and GET /users answer a too costly substring filter with 422`, async (s) => {
    // SQLite examines at most 10 000 rows per list; MySQL stops list statements at
    // LIST_QUERY_TIMEOUT (1 ms here, so a scan of 30 000 rows cannot finish).
    const t = await createTestApp(dialect, {
      env: dialect === "mysql" ? { LIST_QUERY_TIMEOUT: "1ms" } : {},
    });
    try {
      const user = await createUser(t);
      const admin = (await loginAdmin(t)).access_token;
      await seedScale(t.deps.db, { users: 25_000, items: 30_000 });
      for (
        const [token, path] of [
          [user.token, "/items?name=zzqq"],
          [user.token, "/items?description=zzqq&sort=-updated_at"],
          [admin, "/users?username=zzqq"],
        ] as const
      ) {
        await s.step(`${path}: 422 query_too_costly, telling how to narrow it`, async () => {
          const body = await expectProblem(
            await t.request("GET", path, { headers: bearer(token) }),
            422,
          );
          assertEquals(body.code, "query_too_costly");
          assert(/narrow|longer|q\b|add/.test(String(body.detail)), String(body.detail));
        });
      }
      if (dialect === "sqlite") {
        await s.step(
          "a common substring still answers, and so does a rare one under user_id",
          async () => {
            const common = await t.request("GET", "/items?name=item%202", {
              headers: bearer(user.token),
            });
            assertEquals(common.status, 200);
            await common.body?.cancel();
            const [owner] = await t.deps.db.query<{ user_id: number }>(
              "SELECT user_id FROM items WHERE name = 'Item 777'",
            );
            const mine = await t.request(
              "GET",
              `/items?name=item%20777&user_id=${owner!.user_id}`,
              {
                headers: bearer(user.token),
              },
            );
            assertEquals(mine.status, 200);
            const body = await mine.json() as { items: Array<{ name: string }>; total: number };
            assertEquals(body.items.map((i) => i.name), ["Item 777"]);
            assertEquals(body.total, 1);
          },
        );
        await s.step("a q matching more than 10 000 items is 422 on SQLite", async () => {
          const body = await expectProblem(
            await t.request("GET", "/items?q=notebook", { headers: bearer(user.token) }),
            422,
          );
          assertEquals(body.code, "query_too_costly");
        });
      }
    } finally {
      await t.close();
    }
  });
}

Deno.test({
  name:
    "[mysql] a list statement that outlives its deadline is gone from SHOW PROCESSLIST within a second of the 503",
  ignore: !HAS_MYSQL,
  fn: async () => {
    const t = await createTestApp("mysql", {
      env: { DB_QUERY_TIMEOUT: "500ms", LIST_QUERY_TIMEOUT: "30s" },
    });
    const blocker = await mysql.createConnection({ uri: t.database.url });
    const observer = await mysql.createConnection({ uri: t.database.url });
    try {
      const user = await createUser(t);
      const schema = new URL(t.database.url).pathname.slice(1);
      // Another session holds the table: the list's statements wait inside the server.
      await blocker.query("LOCK TABLES items WRITE");
      const res = await t.request("GET", "/items", { headers: bearer(user.token) });
      await expectProblem(res, 503);
      const answeredAt = Date.now();
      const running = async () => {
        const [rows] = await observer.query(
          "SELECT id, info FROM information_schema.PROCESSLIST WHERE db = ? AND info LIKE '%FROM items%' AND info NOT LIKE '%PROCESSLIST%'",
          [schema],
        ) as unknown as [Array<{ id: number; info: string }>];
        return rows;
      };
      let left = await running();
      while (left.length > 0 && Date.now() - answeredAt < 1_000) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        left = await running();
      }
      assertEquals(left, [], "the abandoned statements were killed on the server");
    } finally {
      await blocker.query("UNLOCK TABLES").catch(() => {});
      await blocker.end();
      await observer.end();
      await t.close();
    }
  },
});

Deno.test({
  name:
    "[mysql] a statement past the adapter's timeout is killed on the server, and a request's statements share one budget",
  ignore: !HAS_MYSQL,
  fn: async (s) => {
    const database = await createTestDatabase("mysql", { queryTimeoutMs: 400 });
    const observer = await mysql.createConnection({ uri: database.url });
    const sleeping = async () => {
      const [rows] = await observer.query(
        "SELECT id FROM information_schema.PROCESSLIST WHERE info LIKE 'SELECT SLEEP(%'",
      ) as unknown as [unknown[]];
      return rows.length;
    };
    try {
      await s.step("SELECT SLEEP(5): 503-style error after 400 ms, and no SLEEP left", async () => {
        const started = Date.now();
        const error = await database.db.query("SELECT SLEEP(5)").catch((e) => e);
        assert(error instanceof DatabaseUnavailableError, String(error));
        assert(Date.now() - started < 1_000);
        let left = await sleeping();
        while (left > 0 && Date.now() - started < 1_400) left = await sleeping();
        assertEquals(left, 0);
      });
      await s.step(
        "two statements of 0.3 s under a 0.5 s budget: the second is stopped",
        async () => {
          const started = Date.now();
          const db = database.db.withBudget(new QueryBudget(500));
          const error = await (async () => {
            await db.query("SELECT SLEEP(0.3)");
            await db.query("SELECT SLEEP(0.3)");
          })().catch((e) => e);
          // Each alone is within the adapter's 400 ms: only the shared budget stops the second.
          assert(error instanceof DatabaseUnavailableError, String(error));
          assert(Date.now() - started >= 300, "the first statement ran to its end");
        },
      );
      await s.step("a transaction's statements draw on the same budget", async () => {
        const db = database.db.withBudget(new QueryBudget(500));
        await db.query("SELECT SLEEP(0.2)");
        const error = await db.transaction(async (tx) => {
          await tx.query("SELECT SLEEP(0.2)");
          await tx.query("SELECT SLEEP(0.2)");
        }).catch((e) => e);
        assert(error instanceof DatabaseUnavailableError, String(error));
      });
      await s.step("time between statements is not charged to the budget", async () => {
        // 0.3 s of statements, 1.3 s of wall time, under a 1 s budget.
        const db = database.db.withBudget(new QueryBudget(1_000));
        await db.query("SELECT SLEEP(0.2)");
        await new Promise((resolve) => setTimeout(resolve, 1_200));
        await db.query("SELECT SLEEP(0.1)");
      });
    } finally {
      await observer.end();
      await database.drop();
    }
  },
});

Deno.test("DeadlineQueue.addAt() expires deadlines in time order, whatever order they were added in", async () => {
  const queue = new DeadlineQueue(1_000);
  const fired: string[] = [];
  const now = Date.now();
  queue.add(() => fired.push("add"));
  queue.addAt(now + 60, () => fired.push("60"));
  queue.addAt(now + 20, () => fired.push("20"));
  const removed = queue.addAt(now + 40, () => fired.push("40"));
  queue.remove(removed);
  await new Promise((resolve) => setTimeout(resolve, 120));
  assertEquals(fired, ["20", "60"]);
  assertEquals(queue.size, 1);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assertEquals(fired, ["20", "60", "add"]);
});

Deno.test("capStatement() writes the limit in the server's own syntax", () => {
  assertEquals(flavorOf("10.11.19-MariaDB-0+deb12u1"), "mariadb");
  assertEquals(flavorOf("8.4.3"), "mysql");
  assertEquals(
    capStatement("SELECT id FROM items", 2_000, "mariadb"),
    "SET STATEMENT max_statement_time=2.000 FOR SELECT id FROM items",
  );
  assertEquals(
    capStatement("SELECT id FROM items", 2_000, "mysql"),
    "SELECT /*+ MAX_EXECUTION_TIME(2000) */ id FROM items",
  );
  assertEquals(
    capStatement("UPDATE items SET name = ?", 2_000, "mysql"),
    "UPDATE items SET name = ?",
  );
});
