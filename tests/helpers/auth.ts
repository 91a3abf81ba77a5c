/**
 * Accounts and tokens for tests: log in, create a user and log them in, build bearer headers.
 *
 * @module
 */
import { ROLE_IDS } from "@/modules/roles/roles.ts";
import { insertUser } from "@/modules/users/users.repository.ts";
import { TEST_ADMIN, type TestApp } from "./app.ts";
import { clientOf } from "./client.ts";

/** The body of a successful `POST /auth/token` or `POST /auth/refresh`. */
export interface Tokens {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  user_id: number;
}

/** A user created for a test, logged in once. */
export interface TestUser {
  id: number;
  username: string;
  password: string;
  /** An access token of a fresh session. */
  token: string;
  /** The refresh token of that session. */
  refreshToken: string;
  role: "admin" | "user";
}

/** `Authorization: Bearer <token>` headers. */
export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** Log in with JSON credentials; throws unless the answer is 200. */
export async function login(
  t: TestApp,
  username: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<Tokens> {
  const res = await clientOf(t).auth.token.$post({ json: { username, password } }, { headers });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`Login of ${username} failed: ${res.status} ${text}`);
  const tokens: Tokens = JSON.parse(text);
  return tokens;
}

/** Log in as the bootstrap admin of the test app. */
export function loginAdmin(t: TestApp): Promise<Tokens> {
  return login(t, TEST_ADMIN.username, TEST_ADMIN.password);
}

let sequence = 0;

/** A username no other test uses. */
export function uniqueUsername(prefix = "user"): string {
  sequence += 1;
  return `${prefix}_${sequence}_${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Create an activated user straight through the repository (so no admin session is opened,
 * which could evict a test's own admin session), then log them in over HTTP.
 *
 * @example
 * ```ts
 * const alice = await createUser(t);
 * const res = await t.request("GET", "/auth/me", { headers: bearer(alice.token) });
 * ```
 */
export async function createUser(
  t: TestApp,
  options: { role?: "admin" | "user"; username?: string; password?: string } = {},
): Promise<TestUser> {
  const role = options.role ?? "user";
  const username = options.username ?? uniqueUsername(role);
  const password = options.password ?? `pw-${crypto.randomUUID()}`;
  const id = await insertUser(t.deps.db, {
    username,
    passwordHash: await t.deps.passwords.hash(password),
    roleId: ROLE_IDS[role],
    now: t.clock.now(),
  });
  const tokens = await login(t, username, password);
  return {
    id,
    username,
    password,
    token: tokens.access_token,
    refreshToken: tokens.refresh_token,
    role,
  };
}
