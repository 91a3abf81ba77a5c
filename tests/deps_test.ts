/**
 * `createDeps` opens what the app needs once, and closes what it opened, newest first, on a
 * failing step and on shutdown.
 */
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { testConfig } from "./helpers/app.ts";
import { createTestDatabase, DIALECTS } from "./helpers/databases.ts";
import { createCommandDeps, createDeps } from "@/deps.ts";

/** Wait (up to 5 s) until the server has closed connections to `name` down to `expected`. */
async function settlesAt(
  db: { query<T>(sql: string, params?: unknown[]): Promise<T[]> },
  name: string,
  expected: number,
): Promise<number> {
  let count = await connectionsTo(db, name);
  // The server reaps a connection shortly after the client's COM_QUIT.
  for (let i = 0; i < 50 && count !== expected; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    count = await connectionsTo(db, name);
  }
  return count;
}

/** Connections the MySQL server holds open to database `name`. */
async function connectionsTo(
  db: { query<T>(sql: string, params?: unknown[]): Promise<T[]> },
  name: string,
): Promise<number> {
  const rows = await db.query<{ n: number }>(
    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?",
    [name],
  );
  return Number(rows[0]?.n ?? 0);
}

if (DIALECTS.includes("mysql")) {
  Deno.test("[mysql] a failing startup step closes the database pool it opened", async () => {
    const database = await createTestDatabase("mysql");
    try {
      const name = new URL(database.url).pathname.slice(1);
      const before = await connectionsTo(database.db as never, name);
      // Not migrated: loading the versions table fails after the pool has connected.
      const config = testConfig(database.url);
      await assertRejects(() => createDeps(config, { migrate: false }), Error);
      assertEquals(await settlesAt(database.db as never, name, before), before);
    } finally {
      await database.drop();
    }
  });

  Deno.test("[mysql] a CLI command's deps hold only the database, and close() releases it", async () => {
    const database = await createTestDatabase("mysql");
    try {
      const name = new URL(database.url).pathname.slice(1);
      const before = await connectionsTo(database.db as never, name);
      const deps = await createCommandDeps(testConfig(database.url), { migrate: true });
      const applied = await deps.db.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM schema_migrations",
      );
      assert(Number(applied[0]?.n) > 0, "migrated");
      await deps.close();
      await deps.close();
      assertEquals(await settlesAt(database.db as never, name, before), before);
    } finally {
      await database.drop();
    }
  });

  Deno.test("[mysql] close() releases every connection, and a second close is harmless", async () => {
    const database = await createTestDatabase("mysql");
    try {
      const name = new URL(database.url).pathname.slice(1);
      const before = await connectionsTo(database.db as never, name);
      const deps = await createDeps(testConfig(database.url), { refreshVersions: true });
      assert((await connectionsTo(database.db as never, name)) > before, "the pool connected");
      await deps.close();
      await deps.close();
      assertEquals(await settlesAt(database.db as never, name, before), before);
    } finally {
      await database.drop();
    }
  });
}

Deno.test("[sqlite] createDeps migrates, loads the versions and creates the bootstrap admin", async () => {
  const database = await createTestDatabase("sqlite", { file: true });
  try {
    const deps = await createDeps(testConfig(database.url), { refreshVersions: false });
    try {
      assert((deps.versions.snapshot?.versions.length ?? 0) > 0, "versions loaded");
      const admins = await deps.db.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM users WHERE role_id = 1",
      );
      assertEquals(Number(admins[0]?.n), 1);
      assertEquals(deps.authenticators.at(-1)?.method, "session");
    } finally {
      await deps.close();
    }
  } finally {
    await database.drop();
  }
});
