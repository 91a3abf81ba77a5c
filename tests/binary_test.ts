/**
 * `deno task compile`: what it embeds and bakes in (always checked), and a smoke test of the
 * binary it builds (start on SQLite, log in, create an item, read the docs page) whenever a
 * runtime is available: `DENORT_BIN` names one, or `deno compile` can download it.
 */
import denoJson from "../deno.json" with { type: "json" };
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import {
  type BackgroundProcess,
  containsBytes,
  indexOfBytes,
  repoPath,
  reportSkip,
  run,
  startBackground,
  waitFor,
} from "./helpers/deploy.ts";
import { freePort } from "./helpers/process.ts";
import { ffiPermission } from "../scripts/compile.ts";

const DENO = Deno.execPath();
const ADMIN = { username: "admin", password: "binary-smoke-admin-password" };

/** `deno task compile --output <output>` with `env`; returns its output. */
async function compile(output: string, env: Record<string, string> = {}) {
  return await run(DENO, ["task", "compile", "--output", output], { cwd: repoPath(""), env });
}

function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** The first JSON object following `key` in the binary's embedded metadata. */
function embeddedJson(bytes: Uint8Array, key: string): Record<string, unknown> {
  const at = indexOfBytes(bytes, `"${key}":{`);
  if (at === -1) throw new Error(`No "${key}" in the binary's metadata`);
  const start = at + key.length + 3;
  let depth = 0;
  for (let i = start; i < bytes.length; i++) {
    if (bytes[i] === 0x7b) depth++;
    if (bytes[i] === 0x7d && --depth === 0) {
      return JSON.parse(new TextDecoder().decode(bytes.subarray(start, i + 1)));
    }
  }
  throw new Error(`Unterminated "${key}" object in the binary's metadata`);
}

Deno.test("deno task compile embeds static/, migrations/ and the docs assets and bakes in permissions and cron", async () => {
  // The deno binary itself stands in for the runtime: the compile step, the embedded files and
  // the metadata are exactly those of a real build; only the result does not run the app.
  const dir = await Deno.makeTempDir({ prefix: "items-api-compile-" });
  try {
    const output = `${dir}/items-api`;
    const result = await compile(output, { DENORT_BIN: DENO });
    const listing = plain(result.stdout + result.stderr);
    assertEquals(result.code, 0, listing);
    // The tree deno compile prints: "├── migrations/* (6KB)", "├─┬ src (640KB)",
    // "│ ├── hono/4.13.19/* (1.27MB)", "│ ├─┬ @hono (141KB)".
    const lines = listing.split("\n").map((line) => line.replace(/^[\s│├└─┬]+/, ""));
    const listed = (name: string) =>
      lines.some((line) => line.startsWith(`${name}/`) || line.startsWith(`${name} (`));
    for (const path of ["migrations", "static", "dist", "src"]) {
      assert(listed(path), `${path}/ is not embedded:\n${listing}`);
    }
    for (
      const pkg of [
        "hono",
        "zod",
        "mysql2",
        "prom-client",
        "ioredis",
        "@logtape/logtape",
        "@node-rs",
      ]
    ) {
      assert(listed(pkg), `npm package ${pkg} is not embedded:\n${listing}`);
    }
    if (Deno.build.os === "linux" && Deno.build.arch === "x86_64") {
      // The binding's prebuilt .node file for this platform travels in the binary.
      assert(listed("argon2-linux-x64-gnu"), `no native Argon2id build embedded:\n${listing}`);
    }
    for (
      const pkg of ["playwright-core", "fast-check", "@scalar/api-reference", "swagger-ui-dist"]
    ) {
      assert(!listed(pkg), `unused npm package ${pkg} is embedded:\n${listing}`);
    }

    const bytes = await Deno.readFile(output);
    const permissions = embeddedJson(bytes, "permissions");
    for (const name of ["allow_net", "allow_env", "allow_read", "allow_write", "allow_sys"]) {
      assertEquals(permissions[name], [], `${name} should be granted without limits`);
    }
    assertEquals(permissions.allow_run, null, "allow_run");
    // Node-API addons only from the native Argon2id binding's folder, where the binary mounts it.
    assertEquals(permissions.allow_ffi, [ffiPermission(output).replace("--allow-ffi=", "")]);
    assertStringIncludes(
      (permissions.allow_ffi as string[])[0]!,
      "/deno-compile-items-api/.deno_compile_node_modules/localhost/@node-rs",
    );
    assertEquals(permissions.prompt, false);
    const unstable = embeddedJson(bytes, "unstable_config");
    assert((unstable.features as string[]).includes("cron"), JSON.stringify(unstable));
    for (
      const file of [
        "0001_initial_schema.sql",
        "logo.png",
        "standalone.js",
        "swagger-ui-bundle.js",
        "swagger-ui.css",
      ]
    ) {
      assert(containsBytes(bytes, file), `${file} is not in the binary`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Why no runtime is available, or undefined when `deno compile` can produce a binary. */
async function runtimeUnavailable(): Promise<string | undefined> {
  if (Deno.env.get("DENORT_BIN")) return undefined;
  // A one-line program: cheap, and it fails only if the runtime cannot be fetched.
  const dir = await Deno.makeTempDir({ prefix: "items-api-denort-probe-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, "console.log('ok');\n");
    const probe = await run(DENO, [
      "compile",
      "--no-config",
      "-o",
      `${dir}/probe`,
      `${dir}/probe.ts`,
    ], {
      cwd: dir,
    });
    if (probe.code === 0) return undefined;
    const text = plain(probe.stderr);
    const url = /https:\/\/dl\.deno\.land\/\S+/.exec(text)?.[0] ?? "dl.deno.land";
    if (/error sending request|dns error|Download/i.test(text)) {
      return `deno compile cannot download its runtime (${
        url.replace(/[):]+$/, "")
      }) and DENORT_BIN is unset`;
    }
    throw new Error(`deno compile failed for another reason:\n${text}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const unavailable = await runtimeUnavailable();
if (unavailable) reportSkip("binary smoke test", unavailable);

Deno.test({
  name:
    "the compiled binary runs from any folder: migrate, create-admin, serve, log in, create an item, docs",
  ignore: unavailable !== undefined,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "items-api-binary-" });
    const binary = `${dir}/items-api`;
    const work = `${dir}/work`; // not the repository: everything must come from the binary
    await Deno.mkdir(work);
    const port = freePort();
    const metricsPort = freePort();
    const env = {
      APP_ENV: "production",
      DATABASE_URL: `sqlite:${work}/items.db`,
      SECRET_KEY: "binary-smoke-secret-key-at-least-32-characters",
      HOST: "127.0.0.1",
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      LOG_FORMAT: "json",
      TOKEN_PURGE_CRON: "0 * * * *",
    };
    const exec = (args: string[], stdin?: string) =>
      run(binary, args, { cwd: work, clearEnv: true, env, stdin });
    let server: BackgroundProcess | undefined;
    try {
      const built = await compile(binary);
      assertEquals(built.code, 0, plain(built.stderr));

      await t.step("--version and --help", async () => {
        const version = await exec(["--version"], "");
        assertEquals(
          version.stdout.trim(),
          denoJson.version,
          `not an items-api binary (is DENORT_BIN a denort runtime?): ${version.stdout}${version.stderr}`,
        );
        const help = await exec(["--help"]);
        assertEquals(help.code, 0);
        for (const command of ["serve", "migrate", "create-admin", "purge-tokens", "healthcheck"]) {
          assertStringIncludes(help.stdout, command);
        }
      });

      await t.step("migrate and create-admin", async () => {
        const migrated = await exec(["migrate"]);
        assertEquals(migrated.code, 0, migrated.stderr);
        const created = await exec(
          ["create-admin", "--username", ADMIN.username, "--password-stdin"],
          `${ADMIN.password}\n`,
        );
        assertEquals(created.code, 0, created.stderr);
        assertStringIncludes(created.stdout, `Created admin "${ADMIN.username}"`);
      });

      await t.step(
        "serve: healthcheck, login, an item, the docs, static files, metrics",
        async () => {
          server = startBackground(binary, ["serve"], { cwd: work, clearEnv: true, env });
          const base = `http://127.0.0.1:${port}`;
          await waitFor("the binary to listen", async () => {
            if (server!.exited()) throw new Error(`The binary exited:\n${server!.output()}`);
            const res = await fetch(`${base}/readyz`);
            await res.body?.cancel();
            return res.ok ? true : undefined;
          }, 30_000);
          assertEquals((await exec(["healthcheck"])).code, 0);

          const login = await fetch(`${base}/auth/token`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(ADMIN),
          });
          const tokens = await login.json();
          assertEquals(login.status, 200, JSON.stringify(tokens));
          const created = await fetch(`${base}/items`, {
            method: "POST",
            headers: {
              "Content-Type": "application/json",
              Authorization: `Bearer ${tokens.access_token}`,
            },
            body: JSON.stringify({ name: "from the binary" }),
          });
          assertEquals(created.status, 201, await created.text());

          const basic = { Authorization: `Basic ${btoa(`${ADMIN.username}:${ADMIN.password}`)}` };
          const docs = await fetch(`${base}/docs`, { headers: basic });
          assertEquals(docs.status, 200);
          assertStringIncludes(await docs.text(), "<html");
          for (const path of ["/docs/assets/scalar/standalone.js", "/openapi.json"]) {
            const res = await fetch(`${base}${path}`, { headers: basic });
            await res.body?.cancel();
            assertEquals(res.status, 200, path);
          }
          const logo = await fetch(`${base}/logo.png`);
          await logo.body?.cancel();
          assertEquals(logo.status, 200);
          const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
          assertStringIncludes(await metrics.text(), "http_requests_total");

          const purged = await exec(["purge-tokens"]);
          assertEquals(purged.code, 0, purged.stderr);
        },
      );

      await t.step("SIGTERM stops it with exit code 0", async () => {
        const status = await server!.stop("SIGTERM", 20_000);
        assertEquals(status.code, 0, server!.output());
        server = undefined;
      });
    } finally {
      await server?.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
