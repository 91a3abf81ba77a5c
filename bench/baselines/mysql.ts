/**
 * Baseline for authenticated `GET /items/{id}`: bare `Deno.serve` + a mysql2 pool doing the
 * minimum the route needs — SHA-256 of the bearer token, one lookup of the session by its
 * unique hash, one primary-key lookup of the item — and nothing else (no framework, no
 * validation, no logging, no metrics).
 * Usage: `deno run --allow-net --allow-env --allow-read --allow-sys bench/baselines/mysql.ts <port> <mysql-url> <pool-size>`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import mysql from "mysql2/promise";

const [portArg = "8091", url = "", poolArg = "10"] = Deno.args;
const database = new URL(url);
const pool = mysql.createPool({
  host: database.hostname,
  port: Number(database.port || 3306),
  user: decodeURIComponent(database.username),
  password: decodeURIComponent(database.password),
  database: database.pathname.slice(1),
  connectionLimit: Number(poolArg),
  maxIdle: Number(poolArg),
  timezone: "Z",
  charset: "utf8mb4_unicode_ci",
});

const JSON_HEADERS = { "content-type": "application/json" };
const ITEM_PATH = /^\/items\/(\d+)$/;

/** The same SHA-256 the service uses (node:crypto: Web Crypto's digest() is far slower here). */
function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: JSON_HEADERS });
}

interface SessionRow {
  user_id: number;
  access_expires_at: Date;
}

interface ItemRow {
  id: number;
  user_id: number;
  name: string;
  description: string | null;
  created_at: Date;
  updated_at: Date;
}

async function handle(request: Request): Promise<Response> {
  const path = request.url.slice(request.url.indexOf("/", 8));
  const match = ITEM_PATH.exec(path);
  if (!match) return answer(404, { detail: "Not found" });
  const token = /^Bearer (\S+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
  if (!token) return answer(401, { detail: "Not authenticated" });
  const [sessions] = await pool.query(
    "SELECT user_id, access_expires_at FROM sessions WHERE access_token_hash = ?",
    [sha256Hex(token)],
  );
  const session = (sessions as SessionRow[])[0];
  if (!session || session.access_expires_at.getTime() <= Date.now()) {
    return answer(401, { detail: "Invalid or expired access token" });
  }
  const [items] = await pool.query(
    "SELECT id, user_id, name, description, created_at, updated_at FROM items WHERE id = ?",
    [Number(match[1])],
  );
  const item = (items as ItemRow[])[0];
  if (!item) return answer(404, { detail: "Item not found" });
  return answer(200, {
    id: item.id,
    name: item.name,
    description: item.description,
    user_id: item.user_id,
    created_at: item.created_at.toISOString(),
    updated_at: item.updated_at.toISOString(),
  });
}

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(portArg),
  onListen: () => console.log(`mysql baseline on ${portArg}`),
}, handle);
