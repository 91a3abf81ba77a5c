/**
 * `deno task dev` as a newcomer runs it: it reads `.env` when there is one (the shell's own
 * variables win), starts without one, and SIGTERM ends it whole — the service, its
 * `deno run --watch` file watcher (the same process) and `deno task` itself.
 *
 * The task runs in a scratch directory holding a copy of deno.json and deno.lock and links to
 * the sources, so the `.env` written there is not the repository's.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { freePort, startBackground } from "./helpers/process.ts";
import { repoPath } from "./helpers/deploy.ts";
import { ConfigError, withEnvFile } from "@/config.ts";

const LINKED = ["src", "migrations", "static", "scripts"];

async function scratchProject(dotenv: string | undefined): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "items-api-dev-task-" });
  for (const file of ["deno.json", "deno.lock"]) {
    await Deno.copyFile(repoPath(file), `${dir}/${file}`);
  }
  for (const name of LINKED) await Deno.symlink(repoPath(name), `${dir}/${name}`);
  if (dotenv !== undefined) await Deno.writeTextFile(`${dir}/.env`, dotenv);
  return dir;
}

/** The environment of a shell that sets nothing the service reads. */
function plainShell(extra: Record<string, string>): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "TMPDIR", "XDG_CACHE_HOME"];
  const env: Record<string, string> = {};
  for (const name of keep) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

function alive(pid: number): boolean {
  try {
    return !/^\S+ \S+ Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`).replace(/\(.*\)/, "x"));
  } catch {
    return false;
  }
}

/** The children of `pid` (Linux: /proc/<pid>/task/<tid>/children). */
function childrenOf(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
    return out;
  } catch {
    return [];
  }
}

async function waitFor(condition: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function answers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/livez`);
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "deno task dev reads .env (the shell wins), and SIGTERM ends the service, its watcher and the task",
  ignore: Deno.build.os !== "linux", // reads /proc for the watcher's process
  async fn() {
    const port = freePort();
    const dir = await scratchProject(
      [
        "# what a developer keeps out of the shell",
        `PORT=${port}`,
        "DATABASE_URL=sqlite::memory:",
        "METRICS_PORT=0",
        "LOG_FORMAT=json",
        "ADMIN_USERNAME=from-dotenv",
        'ACCESS_TOKEN_TTL="15m"',
      ].join("\n") + "\n",
    );
    const task = startBackground(Deno.execPath(), ["task", "dev"], {
      cwd: dir,
      clearEnv: true,
      env: plainShell({ ADMIN_USERNAME: "from-shell", NO_COLOR: "1" }),
    });
    let watchers: number[] = [];
    try {
      // Listening on the PORT only .env names: the file was read.
      assert(await waitFor(() => answers(port), 30_000), `not listening:\n${task.output()}`);
      const login = await fetch(`http://127.0.0.1:${port}/auth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: "from-shell", password: "admin" }),
      });
      const tokens = await login.json();
      assertEquals(login.status, 200, "the shell's ADMIN_USERNAME won over .env's");
      assertEquals(tokens.expires_in, 900, "ACCESS_TOKEN_TTL came from .env");

      watchers = childrenOf(task.child.pid);
      assert(watchers.length > 0, "deno task started no child");
      task.child.kill("SIGTERM");
      const ended = await waitFor(() => task.exited(), 20_000);
      assert(ended, `deno task dev still runs 20 s after SIGTERM:\n${task.output()}`);
      for (const pid of watchers) {
        assert(await waitFor(() => !alive(pid), 5_000), `the watcher ${pid} outlived the task`);
      }
      assertEquals(await answers(port), false, "still listening");
      assert(task.output().includes('"Stopped"') || task.output().includes("Stopped"), "drained");
      assert(!task.output().includes("Restarting on file change"), task.output());
    } finally {
      await task.stop("SIGKILL", 5_000);
      for (const pid of watchers) {
        if (alive(pid)) Deno.kill(pid, "SIGKILL");
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "deno task dev starts without a .env file, and says nothing about one",
  async fn() {
    const port = freePort();
    const dir = await scratchProject(undefined);
    const task = startBackground(Deno.execPath(), ["task", "dev"], {
      cwd: dir,
      clearEnv: true,
      env: plainShell({
        PORT: String(port),
        DATABASE_URL: "sqlite::memory:",
        METRICS_PORT: "0",
        NO_COLOR: "1",
      }),
    });
    try {
      assert(await waitFor(() => answers(port), 30_000), `not listening:\n${task.output()}`);
      // No warning about the missing file (as `deno run --env-file` prints on every restart).
      assert(!/warning|not found|env-file/i.test(task.output()), task.output());
    } finally {
      await task.stop("SIGTERM", 20_000);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("withEnvFile() fills in unset variables from ENV_FILE; the process environment wins", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/.env`;
    await Deno.writeTextFile(
      file,
      'PORT=9090\n# a comment\nexport LOG_LEVEL=debug\nCORS_ORIGINS="https://a.example"\nHOST=0.0.0.0\n',
    );
    assertEquals(withEnvFile({ ENV_FILE: file, PORT: "8081", HOST: "" }), {
      ENV_FILE: file,
      PORT: "8081",
      HOST: "",
      LOG_LEVEL: "debug",
      CORS_ORIGINS: "https://a.example",
    });
    assertEquals(withEnvFile({ PORT: "8081" }), { PORT: "8081" }, "no ENV_FILE: untouched");
    assertEquals(withEnvFile({ ENV_FILE: `${dir}/missing.env` }), {
      ENV_FILE: `${dir}/missing.env`,
    });
    let error: unknown;
    try {
      withEnvFile({ ENV_FILE: dir }); // a directory: exists, cannot be read as a file
    } catch (caught) {
      error = caught;
    }
    assert(error instanceof ConfigError, String(error));
    assert(error.message.includes("ENV_FILE"), error.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
