/**
 * The command line as users run it from source: `deno task cli <command>` (the same code the
 * compiled binary runs), over a temporary SQLite database.
 */
import denoJson from "../deno.json" with { type: "json" };
import { healthcheckUrl } from "@/cli.ts";
import { parseConfig } from "@/config.ts";
import { openSqlite } from "@/db/sqlite.ts";
import { insertSession } from "@/modules/auth/sessions.repository.ts";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { repoPath, run, type RunResult, startBackground, waitFor } from "./helpers/deploy.ts";
import { freePort } from "./helpers/process.ts";
import { taskWords } from "./helpers/tasks.ts";

const DENO = Deno.execPath();
const SECRET_KEY = "cli-test-secret-key-that-is-at-least-32-chars";

/** The variables deno itself needs (its cache); everything else is set per test. */
function baseEnv(): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"];
  return Object.fromEntries(
    keep.flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

interface Sandbox {
  dir: string;
  env: Record<string, string>;
  /** `deno task cli <args>` in this sandbox. */
  cli(
    args: string[],
    options?: { env?: Record<string, string>; stdin?: string },
  ): Promise<RunResult>;
}

async function sandbox(): Promise<Sandbox> {
  const dir = await Deno.makeTempDir({ prefix: "items-api-cli-" });
  const env = {
    ...baseEnv(),
    APP_ENV: "test",
    DATABASE_URL: `sqlite:${dir}/items.db`,
    SECRET_KEY,
    LOG_FORMAT: "json",
    HOST: "127.0.0.1",
    METRICS_PORT: "0",
  };
  return {
    dir,
    env,
    cli: (args, options = {}) =>
      run(DENO, ["task", "--quiet", "cli", ...args], {
        cwd: repoPath(""),
        clearEnv: true,
        env: { ...env, ...options.env },
        stdin: options.stdin,
      }),
  };
}

/** `deno run` with exactly the permissions of the `cli` task, for a long-running `serve`. */
async function taskRunArgs(): Promise<string[]> {
  const task = await taskWords(denoJson.tasks.cli);
  assertEquals(task.slice(0, 2), ["deno", "run"]);
  return task.slice(1);
}

Deno.test("deno task cli --version prints the version from deno.json", async () => {
  const box = await sandbox();
  try {
    for (const flag of ["--version", "-V"]) {
      const result = await box.cli([flag]);
      assertEquals(result.code, 0, result.stderr);
      assertEquals(result.stdout.trim(), denoJson.version);
    }
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});

Deno.test("deno task cli --help lists every command", async () => {
  const box = await sandbox();
  try {
    const result = await box.cli(["--help"]);
    assertEquals(result.code, 0, result.stderr);
    for (const command of ["serve", "migrate", "create-admin", "purge-tokens", "healthcheck"]) {
      assertStringIncludes(result.stdout, command);
    }
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});

Deno.test("an unknown command, flag or argument exits 2 with a usage hint", async () => {
  const box = await sandbox();
  try {
    const unknown = await box.cli(["frobnicate"]);
    assertEquals(unknown.code, 2);
    assertStringIncludes(unknown.stderr, 'Unknown command "frobnicate"');
    const flag = await box.cli(["migrate", "--force"]);
    assertEquals(flag.code, 2);
    assertStringIncludes(flag.stderr, "--force");
    const positional = await box.cli(["healthcheck", "now"]);
    assertEquals(positional.code, 2);
    assertStringIncludes(positional.stderr, "items-api --help");
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});

Deno.test("a bad configuration exits 1 naming the variable", async () => {
  const box = await sandbox();
  try {
    const result = await box.cli(["migrate"], { env: { PORT: "not-a-port" } });
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, "PORT");
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});

Deno.test("migrate applies every migration once", async () => {
  const box = await sandbox();
  try {
    const first = await box.cli(["migrate"]);
    assertEquals(first.code, 0, first.stderr);
    assertStringIncludes(first.stdout + first.stderr, "0001_initial_schema");
    const second = await box.cli(["migrate"]);
    assertEquals(second.code, 0, second.stderr);
    assertStringIncludes(second.stdout + second.stderr, "none pending");

    const db = openSqlite(`${box.dir}/items.db`);
    try {
      const rows = await db.query<{ version: string }>("SELECT version FROM schema_migrations");
      const files = [...Deno.readDirSync(repoPath("migrations/sqlite"))].length;
      assertEquals(rows.length, files);
    } finally {
      await db.close();
    }
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});

Deno.test("create-admin creates an admin from stdin or ADMIN_PASSWORD and refuses bad input", async (t) => {
  const box = await sandbox();
  try {
    await t.step("--password-stdin on a fresh database (migrates it first)", async () => {
      const result = await box.cli(
        ["create-admin", "--username", "ops-admin", "--password-stdin"],
        { stdin: "a long admin passphrase\n" },
      );
      assertEquals(result.code, 0, result.stderr);
      assertStringIncludes(result.stdout, 'Created admin "ops-admin"');
      assert(
        !(result.stdout + result.stderr).includes("a long admin passphrase"),
        "password logged",
      );
    });

    await t.step("ADMIN_USERNAME and ADMIN_PASSWORD from the environment", async () => {
      const result = await box.cli(["create-admin"], {
        env: { ADMIN_USERNAME: "env-admin", ADMIN_PASSWORD: "another long passphrase" },
      });
      assertEquals(result.code, 0, result.stderr);
      assertStringIncludes(result.stdout, 'Created admin "env-admin"');
    });

    await t.step("a taken username exits 1", async () => {
      const result = await box.cli(
        ["create-admin", "--username", "OPS-ADMIN", "--password", "yet another passphrase"],
      );
      assertEquals(result.code, 1);
      assertStringIncludes(result.stderr, "taken");
    });

    await t.step("a bad username or a short password exits 1 naming the field", async () => {
      const result = await box.cli(["create-admin", "--username", "x", "--password", "short"]);
      assertEquals(result.code, 1);
      assertStringIncludes(result.stderr, "username:");
      assertStringIncludes(result.stderr, "password:");
    });

    await t.step("no password at all, or two sources, is a usage error", async () => {
      const none = await box.cli(["create-admin", "--username", "nobody"], {
        env: { APP_ENV: "production" },
      });
      assertEquals(none.code, 2, none.stderr);
      assertStringIncludes(none.stderr, "--password-stdin");
      const both = await box.cli(["create-admin", "--password", "p", "--password-stdin"]);
      assertEquals(both.code, 2);
    });

    const db = openSqlite(`${box.dir}/items.db`);
    try {
      const admins = await db.query<{ username: string }>(
        "SELECT u.username FROM users u JOIN roles r ON r.id = u.role_id WHERE r.name = 'admin' ORDER BY u.username",
      );
      assertEquals(admins.map((a) => a.username), ["env-admin", "ops-admin"]);
    } finally {
      await db.close();
    }
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});

Deno.test("healthcheck exits 0 while serve is ready and 1 when /readyz fails, is down or hangs", async (t) => {
  const box = await sandbox();
  const port = freePort();
  const created = await box.cli(
    ["create-admin", "--username", "health-admin", "--password-stdin"],
    { stdin: "health admin passphrase\n" },
  );
  assertEquals(created.code, 0, created.stderr);
  const service = startBackground(DENO, [...await taskRunArgs(), "serve"], {
    cwd: repoPath(""),
    clearEnv: true,
    env: { ...box.env, PORT: String(port), ADMIN_PASSWORD: "" },
  });
  const stubs: Deno.HttpServer[] = [];
  try {
    await waitFor("serve to listen", async () => {
      if (service.exited()) throw new Error(`serve exited:\n${service.output()}`);
      const res = await fetch(`http://127.0.0.1:${port}/livez`);
      await res.body?.cancel();
      return res.ok ? true : undefined;
    }, 30_000);

    await t.step("the admin made by create-admin logs in to the served API", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/auth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: "health-admin", password: "health admin passphrase" }),
      });
      assertEquals(res.status, 200, await res.text());
    });

    await t.step("ready: exit 0", async () => {
      const result = await box.cli(["healthcheck"], { env: { PORT: String(port) } });
      assertEquals(result.code, 0, result.stderr);
    });

    await t.step("/readyz answers 503: exit 1", async () => {
      const stub = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        () => new Response("{}", { status: 503 }),
      );
      stubs.push(stub);
      const result = await box.cli(["healthcheck"], { env: { PORT: String(stub.addr.port) } });
      assertEquals(result.code, 1);
      assertStringIncludes(result.stderr, "answered 503");
    });

    await t.step("nothing listens: exit 1", async () => {
      const result = await box.cli(["healthcheck"], { env: { PORT: String(freePort()) } });
      assertEquals(result.code, 1);
      assertStringIncludes(result.stderr, "Unhealthy");
    });

    await t.step("no answer within 2 s: exit 1", async () => {
      const never = Promise.withResolvers<Response>();
      const stub = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        () => never.promise,
      );
      stubs.push(stub);
      const result = await box.cli(["healthcheck"], { env: { PORT: String(stub.addr.port) } });
      never.resolve(new Response("late"));
      assertEquals(result.code, 1);
      assertStringIncludes(result.stderr, "no answer within 2000 ms");
    });

    await t.step("SIGTERM stops serve with exit code 0", async () => {
      const status = await service.stop("SIGTERM", 20_000);
      assertEquals(status.code, 0, service.output());
    });
  } finally {
    await service.stop("SIGKILL");
    for (const stub of stubs) await stub.shutdown();
    await Deno.remove(box.dir, { recursive: true });
  }
});

Deno.test("healthcheck probes loopback when HOST binds every address", () => {
  const url = (HOST: string) =>
    healthcheckUrl(parseConfig({ APP_ENV: "test", HOST, PORT: "9090" }));
  assertEquals(url("0.0.0.0"), "http://127.0.0.1:9090/readyz");
  assertEquals(url("::"), "http://127.0.0.1:9090/readyz");
  assertEquals(url("10.1.2.3"), "http://10.1.2.3:9090/readyz");
  assertEquals(url("::1"), "http://[::1]:9090/readyz");
});

Deno.test("purge-tokens deletes expired sessions and keeps live ones", async () => {
  const box = await sandbox();
  try {
    const created = await box.cli(
      ["create-admin", "--username", "purge-admin", "--password-stdin"],
      { stdin: "purge admin passphrase\n" },
    );
    assertEquals(created.code, 0, created.stderr);
    const path = `${box.dir}/items.db`;
    const now = Date.now();
    const db = openSqlite(path);
    try {
      const [user] = await db.query<{ id: number }>("SELECT id FROM users WHERE username = ?", [
        "purge-admin",
      ]);
      for (
        const [name, refreshExpiresAt] of [["expired", now - 60_000], [
          "live",
          now + 3_600_000,
        ]] as const
      ) {
        await insertSession(db, {
          userId: user!.id,
          accessTokenHash: `${name}-access`.padEnd(64, "0"),
          accessExpiresAt: new Date(Math.min(refreshExpiresAt, now)),
          refreshTokenHash: `${name}-refresh`.padEnd(64, "0"),
          refreshExpiresAt: new Date(refreshExpiresAt),
          now: new Date(now - 120_000),
          userAgent: name,
          ip: null,
        });
      }
    } finally {
      await db.close();
    }

    const result = await box.cli(["purge-tokens"]);
    assertEquals(result.code, 0, result.stderr);
    assertStringIncludes(result.stdout, "Deleted 1 expired session(s)");

    const after = openSqlite(path);
    try {
      const rows = await after.query<{ user_agent: string }>("SELECT user_agent FROM sessions");
      assertEquals(rows.map((r) => r.user_agent), ["live"]);
    } finally {
      await after.close();
    }
  } finally {
    await Deno.remove(box.dir, { recursive: true });
  }
});
