/**
 * Build a fully migrated app over a real test database, with an injectable clock and config.
 *
 * @module
 */
import { type App, type AppModule, createApp, createModuleDeps } from "@/app.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import { type Config, parseConfig } from "@/config.ts";
import { createDeps, type OwnedDeps } from "@/deps.ts";
import type { TokenAuthenticator } from "@/middleware/authenticator.ts";
import { type Clock, ManualClock } from "@/runtime/clock.ts";
import { createMetrics } from "@/runtime/metrics.ts";
import { choosePasswordBackend } from "@/runtime/password-backends.ts";
import {
  type Argon2Params,
  defaultHashQueueLimit,
  hashQueueLimits,
  PasswordHasher,
} from "@/runtime/passwords.ts";
import type { OidcSetup } from "@/modules/oidc/oidc.index.ts";
import { createTestDatabase, type Dialect, type TestDatabase } from "./databases.ts";

/** Cheap Argon2id parameters so tests stay fast; production uses the defaults. */
export const TEST_ARGON2: Argon2Params = { memory: 256, passes: 1, parallelism: 1 };

/** Credentials of the bootstrap admin of every test app. */
export const TEST_ADMIN = { username: "admin", password: "admin-password-for-tests" } as const;

/** The socket peer of `TestApp.request`: a client on this machine, as in a real request. */
export const LOOPBACK_PEER = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50_000 },
};

/** A running test app and what it was built over. */
export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: OwnedDeps;
  config: Config;
  clock: ManualClock;
  database: TestDatabase;
  /** The OIDC key store and authenticator, when the env sets OIDC_ISSUER. */
  oidc: OidcSetup | undefined;
  /** `app.request` with a JSON body helper: `request("POST", "/items", { json: {...} })`. */
  request(
    method: string,
    path: string,
    options?: { json?: unknown; headers?: Record<string, string>; body?: BodyInit },
  ): Promise<Response>;
  /** A router created as the app's modules' are: its routes' auth and bodies are enforced. */
  router(): ReturnType<typeof createAppRouter>;
  /** Close the database and drop it. */
  close(): Promise<void>;
}

/** Options of {@link createTestApp}. */
export interface TestAppOptions {
  /** Extra environment variables, as a user would set them. */
  env?: Record<string, string>;
  /** Reuse a database (for a second instance over the same data). */
  database?: TestDatabase;
  /** SQLite on a file instead of in memory. */
  file?: boolean;
  clock?: Clock;
  /** Authenticators asked before the session-token one (for tests of other credentials). */
  authenticators?: readonly TokenAuthenticator[];
  /** The modules to mount instead of the app's own (`MODULES`). */
  modules?: readonly AppModule[];
}

/** Build the config a test app runs with. */
export function testConfig(url: string, env: Record<string, string> = {}): Config {
  return parseConfig({
    APP_ENV: "test",
    DATABASE_URL: url,
    SECRET_KEY: "test-secret-key-that-is-at-least-32-characters",
    ADMIN_USERNAME: TEST_ADMIN.username,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    METRICS_PORT: "0",
    // Limits out of the way of functional tests; rate-limit tests set their own.
    RATE_LIMIT_API_MAX: "100000000",
    RATE_LIMIT_API_KEY_MAX: "100000000",
    RATE_LIMIT_LOGIN_MAX: "1000000",
    RATE_LIMIT_LOGIN_IP_MAX: "1000000",
    RATE_LIMIT_AUTH_FAILURE_MAX: "1000000",
    RATE_LIMIT_RENAME_MAX: "1000000",
    PASSWORD_HASH_QUEUE_LIMIT: "100000",
    ...env,
  });
}

/** Create a migrated database with the bootstrap admin, and an app over it. */
export async function createTestApp(
  dialect: Dialect,
  options: TestAppOptions = {},
): Promise<TestApp> {
  const database = options.database ?? await createTestDatabase(dialect, { file: options.file });
  const shared = options.database !== undefined;
  const db = shared ? database.open() : database.db;
  const config = testConfig(database.url, options.env);
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock(new Date());
  // The backend the service would choose (the native binding where it loads).
  const { backend } = await choosePasswordBackend(config.auth.passwordHasher);
  const deps = await createDeps(config, {
    db,
    clock,
    passwords: new PasswordHasher(
      config.auth.secretKey,
      TEST_ARGON2,
      undefined,
      hashQueueLimits(config.auth.hashQueueLimit ?? defaultHashQueueLimit(backend.name)),
      backend,
    ),
    metrics: createMetrics({ version: "test", poolStats: () => db.stats() }),
    authenticators: options.authenticators ?? [],
    // Tests that need the periodic reload call `deps.versions.start()`.
    refreshVersions: false,
  });
  // Tests start with the provider's keys loaded (or known to be missing).
  await deps.oidc?.keys.settled();
  const app = options.modules ? createApp(deps, options.modules) as App : createApp(deps);
  return {
    app,
    deps,
    config,
    clock,
    database,
    oidc: deps.oidc,
    request: (method, path, { json, headers = {}, body } = {}) =>
      Promise.resolve(app.request(path, {
        method,
        headers: json === undefined ? headers : { "Content-Type": "application/json", ...headers },
        body: json === undefined ? body : JSON.stringify(json),
      }, LOOPBACK_PEER)),
    router: () => createAppRouter(createModuleDeps(deps, options.modules)),
    close: async () => {
      await deps.close();
      if (shared) await db.close();
      else await database.drop();
    },
  };
}

/** Assert a response is problem+json with `status`; returns the parsed body. */
export async function expectProblem(
  res: Pick<Response, "status" | "headers" | "text">,
  status: number,
): Promise<Record<string, unknown>> {
  const text = await res.text();
  if (res.status !== status) {
    throw new Error(`Expected status ${status}, got ${res.status}: ${text}`);
  }
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("application/problem+json")) {
    throw new Error(`Expected application/problem+json, got "${type}": ${text}`);
  }
  const body = JSON.parse(text) as Record<string, unknown>;
  for (const key of ["type", "title", "status", "detail", "code", "request_id"]) {
    if (!(key in body)) throw new Error(`Problem body lacks "${key}": ${text}`);
  }
  if (body.status !== status) throw new Error(`Problem body status ${body.status} != ${status}`);
  return body;
}
