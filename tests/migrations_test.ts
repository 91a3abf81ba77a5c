import { assert, assertEquals } from "./helpers/assert.ts";
import { loadMigrations, migrate, splitStatements } from "@/db/migrate.ts";
import { createTestDatabase, type Dialect, DIALECTS } from "./helpers/databases.ts";

Deno.test("splitStatements() splits on line-ending semicolons and drops comments", () => {
  assertEquals(
    splitStatements("-- comment\nCREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (1), (2);\n"),
    ["CREATE TABLE a (x INT)", "INSERT INTO a VALUES (1), (2)"],
  );
});

/** Every migration of `dialect`, as `migrate()` reports them (`0001_initial_schema`). */
async function allMigrationNames(dialect: Dialect): Promise<string[]> {
  return (await loadMigrations(dialect)).map((m) => `${m.version}_${m.name}`);
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] migrations create the schema and seed roles and versions`, async () => {
    const t = await createTestDatabase(dialect);
    try {
      const { applied } = await migrate(t.db);
      assertEquals(applied, await allMigrationNames(dialect));
      const roles = await t.db.query<{ id: number; name: string }>(
        "SELECT id, name FROM roles ORDER BY id",
      );
      assertEquals(roles.map((r) => [Number(r.id), r.name]), [[1, "admin"], [2, "user"]]);
      const versions = await t.db.query<{ version: string; supported: number }>(
        "SELECT version, supported FROM versions ORDER BY id",
      );
      assertEquals(versions.map((v) => [v.version, Number(v.supported)]), [
        ["0.1", 0],
        ["0.2", 0],
        ["0.3", 0],
        ["0.4", 0],
        ["0.5", 0],
        ["0.6", 0],
        ["0.7", 0],
        ["0.8", 0],
        ["1.0", 1],
      ]);
      for (const table of ["users", "items", "sessions", "schema_migrations"]) {
        const rows = await t.db.query(`SELECT COUNT(*) AS n FROM ${table}`);
        assert(rows.length === 1, table);
      }
    } finally {
      await t.drop();
    }
  });

  Deno.test(`[${dialect}] running migrations twice applies nothing the second time`, async () => {
    const t = await createTestDatabase(dialect);
    try {
      await migrate(t.db);
      assertEquals((await migrate(t.db)).applied, []);
      const rows = await t.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM roles");
      assertEquals(Number(rows[0]!.n), 2);
    } finally {
      await t.drop();
    }
  });

  Deno.test(`[${dialect}] two concurrent migration runners apply each migration once`, async () => {
    const t = await createTestDatabase(dialect, { file: true });
    try {
      const other = t.open();
      const [a, b] = await Promise.all([migrate(t.db), migrate(other)]);
      const all = await allMigrationNames(dialect);
      assertEquals([...a.applied, ...b.applied].sort(), all);
      const rows = await t.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM schema_migrations");
      assertEquals(Number(rows[0]!.n), all.length);
      const versions = await t.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM versions");
      assertEquals(Number(versions[0]!.n), 9);
    } finally {
      await t.drop();
    }
  });
}
