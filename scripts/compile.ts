/**
 * `deno task compile`: build the self-contained `items-api` binary with `deno compile` —
 * static/, migrations/ and the docs assets embedded, permissions and the cron flag baked in.
 *
 * Usage: `deno task compile [--output dist/items-api]`
 *
 * `deno compile` downloads its runtime (`denort`) from dl.deno.land unless `DENORT_BIN` names a
 * local copy; the variable passes through to it.
 *
 * @module
 */
import { basename } from "node:path";
import { parseArgs } from "node:util";

/** The repository root. */
const ROOT = new URL("../", import.meta.url);

/** Where the binary goes unless `--output` says otherwise (the Dockerfile copies it from here). */
export const DEFAULT_OUTPUT = "dist/items-api";

/** The program the binary runs. */
export const ENTRYPOINT = "src/cli.ts";

/**
 * What the binary may do, fixed at build time: no prompts, nothing else. `node:sqlite` needs
 * only read and write; `--allow-sys` serves the OS facts prom-client and the drivers ask for.
 * `--allow-ffi` is added for one folder only, the native Argon2id binding's
 * ({@link ffiPermission}).
 */
export const PERMISSION_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
];

/**
 * `--allow-ffi` for the one folder the binary `output` loads a Node-API addon from: `@node-rs`
 * (the native Argon2id binding, `@node-rs/argon2-<platform>`) among its embedded npm packages.
 * At run time the binary mounts those under
 * `<temp dir>/deno-compile-<binary name>/.deno_compile_node_modules/localhost/`, checks
 * `--allow-ffi` against that path, then writes the `.node` file to
 * `<temp dir>/deno-native-addons/` and loads it from there. The temp dir is `TMPDIR`, else
 * `/tmp`, taken here from the build machine: `/tmp` in the Dockerfile's build and runtime
 * stages alike. A binary renamed, or run with another `TMPDIR`, is not granted the addon and
 * hashes passwords through Web Crypto (the start log and `/metrics` say which).
 */
export function ffiPermission(output: string, tempDir = buildTempDir()): string {
  const name = basename(output) +
    (Deno.build.os === "windows" && !/\.exe$/i.test(output) ? ".exe" : "");
  const sep = Deno.build.os === "windows" ? "\\" : "/";
  const dir = tempDir.replace(/[\\/]+$/, "");
  return `--allow-ffi=${
    [dir, `deno-compile-${name}`, ".deno_compile_node_modules", "localhost", "@node-rs"].join(sep)
  }`;
}

/** The temp dir Deno's runtime will see (Rust's `std::env::temp_dir()` on Unix). */
function buildTempDir(): string {
  if (Deno.build.os === "windows") {
    return Deno.env.get("TMP") || Deno.env.get("TEMP") || "C:\\Windows\\Temp";
  }
  return Deno.env.get("TMPDIR") || "/tmp";
}

/**
 * Every `deno compile` flag except `--output`, `--allow-ffi` ({@link ffiPermission}, which
 * depends on the output's name), the workaround excludes and the entrypoint.
 */
export const COMPILE_FLAGS: readonly string[] = [
  ...PERMISSION_FLAGS,
  // A permission the list above lacks is an error, never a prompt on a server's terminal.
  "--no-prompt",
  // The token-purge job uses Deno.cron (deno.json's "unstable" says so too; explicit is safer).
  "--unstable-cron",
  // Fail instead of resolving anything deno.lock does not pin.
  "--frozen",
  // A smaller young generation and a bounded old one: V8 then sizes its heap to what is live,
  // about 70 MB less RSS under load for a few percent of CPU (see README, Performance;
  // `deno task start` passes the same flags).
  "--v8-flags=--max-semi-space-size=8,--max-old-space-size=512",
  // Embed only the npm packages src/ imports (not playwright-core, fast-check, the docs UIs).
  "--exclude-unused-npm",
  "--include",
  "static",
  "--include",
  "migrations",
  // The docs pages' JavaScript and CSS, copied out of their npm packages by `docs:assets`.
  "--include",
  "dist/docs-assets",
];

async function deno(args: string[], options: { quiet?: boolean } = {}): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: options.quiet ? "piped" : "inherit",
    stderr: "inherit",
  }).output();
  if (output.code !== 0) {
    console.error(`deno ${args[0]} failed with exit code ${output.code}`);
    Deno.exit(output.code);
  }
  return options.quiet ? new TextDecoder().decode(output.stdout) : "";
}

/**
 * Paths to leave out of the binary to work around a `deno compile` crash. Deno 2.9 parses every
 * file of an embedded npm package as JavaScript; bintrees (prom-client -> tdigest -> bintrees)
 * ships a test fixture, `test/perf/100k`, of 200,000 numbers one per line, which parses as one
 * 200,000-term subtraction and overflows the compiler's stack ("thread 'tokio-runtime-worker'
 * has overflowed its stack"). The package's tests are never loaded at run time.
 */
export async function workaroundExcludes(npmCache: string): Promise<string[]> {
  const excludes: string[] = [];
  const dirs = async function* (path: string) {
    try {
      for await (const entry of Deno.readDir(path)) if (entry.isDirectory) yield entry.name;
    } catch {
      // absent
    }
  };
  for await (const registry of dirs(npmCache)) {
    const pkg = `${npmCache}/${registry}/bintrees`;
    for await (const version of dirs(pkg)) {
      for await (const sub of dirs(`${pkg}/${version}`)) {
        if (sub === "test") excludes.push("--exclude", `${pkg}/${version}/test`);
      }
    }
  }
  return excludes;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { output: { type: "string", default: DEFAULT_OUTPUT } },
    strict: true,
    allowPositionals: false,
  });
  await deno(["task", "docs:assets"]);
  const info = JSON.parse(await deno(["info", "--json"], { quiet: true })) as { npmCache: string };
  await deno([
    "compile",
    ...COMPILE_FLAGS,
    ffiPermission(values.output),
    ...await workaroundExcludes(info.npmCache),
    "--output",
    values.output,
    ENTRYPOINT,
  ]);
}
