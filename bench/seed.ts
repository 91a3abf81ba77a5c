/**
 * Seed a migrated MySQL database with a realistic data set for the benchmark: `users` plain
 * users sharing one precomputed Argon2id hash, and `itemsPerUser` items each, written with
 * multi-row INSERTs straight through mysql2 (the API would take minutes).
 *
 * @module
 */
import type { Connection } from "mysql2/promise";

/** What {@link seedDatabase} wrote. */
export interface SeededData {
  /** Seeded users in id order; user `i` owns items `firstItemId..lastItemId`. */
  users: Array<{ id: number; username: string; firstItemId: number; lastItemId: number }>;
  itemMin: number;
  itemMax: number;
}

/** Options of {@link seedDatabase}. */
export interface SeedOptions {
  users: number;
  itemsPerUser: number;
  /** A PHC string every seeded user gets (hashed once with the service's pepper). */
  passwordHash: string;
  /** Rows per INSERT statement. */
  batchSize?: number;
}

const USER_ROLE_ID = 2;
const WORDS = [
  "amber",
  "basalt",
  "cedar",
  "delta",
  "ember",
  "fjord",
  "granite",
  "harbor",
  "indigo",
  "juniper",
  "kestrel",
  "lagoon",
  "meadow",
  "nimbus",
  "orchid",
  "pebble",
  "quartz",
  "raven",
  "saffron",
  "tundra",
];

/** A deterministic pseudo-random generator (mulberry32), so every run seeds the same data. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Insert users and items; the database must be migrated and contain no items yet. */
export async function seedDatabase(conn: Connection, options: SeedOptions): Promise<SeededData> {
  const batchSize = options.batchSize ?? 2_000;
  const next = random(42);
  const word = () => WORDS[Math.floor(next() * WORDS.length)]!;
  const yearMs = 365 * 86_400_000;
  const now = Date.now();

  const [maxRows] = await conn.query("SELECT COALESCE(MAX(id), 0) AS max_id FROM users");
  const firstUserId = Number((maxRows as Array<{ max_id: number }>)[0]!.max_id) + 1;

  const users: SeededData["users"] = [];
  const userRows: unknown[][] = [];
  for (let i = 0; i < options.users; i++) {
    const id = firstUserId + i;
    const username = `bench-user-${String(i + 1).padStart(4, "0")}`;
    const created = new Date(now - yearMs + Math.floor(next() * yearMs / 2));
    userRows.push([id, username, options.passwordHash, USER_ROLE_ID, 1, created, created]);
    users.push({
      id,
      username,
      firstItemId: i * options.itemsPerUser + 1,
      lastItemId: (i + 1) * options.itemsPerUser,
    });
  }
  for (let i = 0; i < userRows.length; i += batchSize) {
    await conn.query(
      "INSERT INTO users (id, username, password_hash, role_id, activated, created_at, updated_at) VALUES ?",
      [userRows.slice(i, i + batchSize)],
    );
  }

  let batch: unknown[][] = [];
  for (const user of users) {
    for (let id = user.firstItemId; id <= user.lastItemId; id++) {
      const created = new Date(now - Math.floor(next() * yearMs / 2));
      const updated = new Date(created.getTime() + Math.floor(next() * 86_400_000));
      const description = next() < 0.2
        ? null
        : `${word()} ${word()} ${word()}, noted on ${created.toISOString().slice(0, 10)}; ` +
          `${word()} ${word()} and ${word()}`;
      batch.push([id, user.id, `${word()} ${word()} ${id}`, description, created, updated]);
      if (batch.length === batchSize) {
        await insertItems(conn, batch);
        batch = [];
      }
    }
  }
  if (batch.length > 0) await insertItems(conn, batch);
  return { users, itemMin: 1, itemMax: options.users * options.itemsPerUser };
}

async function insertItems(conn: Connection, rows: unknown[][]): Promise<void> {
  await conn.query(
    "INSERT INTO items (id, user_id, name, description, created_at, updated_at) VALUES ?",
    [rows],
  );
}
