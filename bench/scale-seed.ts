/**
 * Bulk seeding for scale tests and `deno task bench:scale`: `users` plain users and `items`
 * items spread over them, written by INSERT … SELECT over a generated numbers table (a
 * recursive CTE), in chunks, never a statement per row. Both dialects.
 *
 * Item `n` (1-based; ids may have gaps, as bulk inserts reserve AUTO_INCREMENT ranges) belongs
 * to user `1 + n % users` (of the seeded ones), is named
 * `Item <n>`, and is described as `<colour> notebook k<n mod 997, 3 digits>`: each `kNNN` word
 * matches about items/997 rows (a selective `q`), the colours an eighth each (a common
 * substring). `created_at` grows with n; `updated_at` is a permutation of it, so the two orders
 * differ.
 *
 * @module
 */
import type { Database } from "@/db/database.ts";

/** Options of {@link seedScale}. */
export interface ScaleSeedOptions {
  users: number;
  items: number;
  /** Rows per INSERT … SELECT. */
  chunk?: number;
  /** Called after each chunk with the rows written so far. */
  progress?: (items: number) => void;
}

/** What {@link seedScale} wrote: the id range of the seeded users. */
export interface ScaleSeed {
  firstUserId: number;
  users: number;
  items: number;
}

const BASE = "2026-01-01T00:00:00.000Z";
/** Coprime with every item count used here: `n * STRIDE mod items` permutes 0..items-1. */
const STRIDE = 7_919;

/** Numbers `from + 1 .. from + count` as rows `n`, in the dialect's CTE (at most 1000² per chunk). */
function numbers(from: number, count: number): string {
  // Two levels of a 0..999 recursive CTE: MySQL 8 stops recursion at depth 1000 by default.
  const digits = "WITH RECURSIVE d (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 999)";
  return `${digits}, n (n) AS (SELECT ${from} + a.i * 1000 + b.i + 1 FROM d AS a CROSS JOIN d AS b WHERE a.i * 1000 + b.i < ${count})`;
}

async function insertUsers(db: Database, users: number): Promise<number> {
  const [before] = await db.query<{ m: number | null }>("SELECT MAX(id) AS m FROM users");
  const first = Number(before?.m ?? 0) + 1;
  const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZA$c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZA";
  for (let done = 0; done < users; done += 100_000) {
    const count = Math.min(100_000, users - done);
    const created = db.dialect === "mysql"
      ? `TIMESTAMPADD(SECOND, n, '${BASE.slice(0, 19).replace("T", " ")}')`
      : `strftime('%Y-%m-%dT%H:%M:%fZ', '${BASE}', '+' || n || ' seconds')`;
    const name = db.dialect === "mysql"
      ? "CONCAT('scale', LPAD(n, 7, '0'))"
      : "'scale' || printf('%07d', n)";
    await db.execute(
      `INSERT INTO users (username, password_hash, role_id, activated, created_at, updated_at) ${
        numbers(done, count)
      } SELECT ${name}, '${hash}', 2, CASE WHEN n % 10 = 0 THEN 0 ELSE 1 END, ${created}, ${created} FROM n`,
      [],
      { timeoutMs: 600_000 },
    );
  }
  return first;
}

/** Seed a migrated database (see the module doc for the data's shape). */
export async function seedScale(db: Database, options: ScaleSeedOptions): Promise<ScaleSeed> {
  const firstUserId = await insertUsers(db, options.users);
  const chunk = Math.min(options.chunk ?? 100_000, 1_000_000);
  const n = options.items;
  for (let done = 0; done < n; done += chunk) {
    const count = Math.min(chunk, n - done);
    const sql = db.dialect === "mysql"
      ? `INSERT INTO items (user_id, name, description, created_at, updated_at) ${
        numbers(done, count)
      } SELECT ${firstUserId} + n % ${options.users}, CONCAT('Item ', n), CONCAT(ELT(1 + n % 8, 'red', 'green', 'blue', 'black', 'white', 'amber', 'ivory', 'olive'), ' notebook k', LPAD(n % 997, 3, '0')), TIMESTAMPADD(SECOND, n, '2026-01-01 00:00:00'), TIMESTAMPADD(SECOND, (n * ${STRIDE}) % ${n}, '2026-01-01 00:00:00') FROM n`
      : `INSERT INTO items (user_id, name, description, created_at, updated_at) ${
        numbers(done, count)
      } SELECT ${firstUserId} + n % ${options.users}, 'Item ' || n, CASE n % 8 WHEN 0 THEN 'red' WHEN 1 THEN 'green' WHEN 2 THEN 'blue' WHEN 3 THEN 'black' WHEN 4 THEN 'white' WHEN 5 THEN 'amber' WHEN 6 THEN 'ivory' ELSE 'olive' END || ' notebook k' || printf('%03d', n % 997), strftime('%Y-%m-%dT%H:%M:%fZ', '${BASE}', '+' || n || ' seconds'), strftime('%Y-%m-%dT%H:%M:%fZ', '${BASE}', '+' || ((n * ${STRIDE}) % ${n}) || ' seconds') FROM n`;
    await db.execute(sql, [], { timeoutMs: 3_600_000 });
    options.progress?.(done + count);
  }
  if (db.dialect === "mysql") {
    // Rebuild the FULLTEXT index over the seeded rows (InnoDB's OPTIMIZE is a recreate), as the
    // migration builds it over existing ones: right after a bulk insert the rows sit in InnoDB's
    // FTS cache, where MariaDB 10.11 now and then answers a boolean query pairing a prefix that
    // every row has (`+noteb* +k04*`) with no rows at all, for a moment.
    await db.query("OPTIMIZE TABLE items_search", [], { timeoutMs: 600_000 });
    await db.query("ANALYZE TABLE items, users, items_search", [], { timeoutMs: 600_000 });
  } else {
    await db.execute("ANALYZE");
  }
  return { firstUserId, users: options.users, items: n };
}
