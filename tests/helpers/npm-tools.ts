/**
 * Pinned npm command-line tools for tests (httpyac, Redocly, openapi-typescript...), installed
 * once per set of versions into `$TMPDIR/items-api-tools/<name>` and reused, the way
 * scripts/lint-openapi.ts installs Spectral. They are tools run as processes, never imported.
 *
 * @module
 */
import { tmpdir } from "node:os";
import { join } from "node:path";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A tool folder: its `node_modules/.bin` and a runner for its commands. */
export interface NpmTools {
  dir: string;
  /** Path of an installed binary, e.g. `bin("httpyac")`. */
  bin(name: string): string;
}

/**
 * Install `packages` (exact versions, `name@1.2.3`) unless a previous run did. Installs into a
 * staging folder renamed into place, so concurrent test files never see half an install.
 */
export async function ensureNpmTools(packages: readonly string[]): Promise<NpmTools> {
  const key = packages.map((p) => p.replace(/^@/, "").replaceAll("/", "-")).sort().join("+");
  const root = join(tmpdir(), "items-api-tools");
  const dir = join(root, key);
  const marker = join(dir, ".installed");
  const tools = { dir, bin: (name: string) => join(dir, "node_modules", ".bin", name) };
  if (await exists(marker)) return tools;
  await Deno.mkdir(root, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: root, prefix: "staging-" });
  const { code, stderr } = await new Deno.Command("npm", {
    args: [
      "install",
      "--prefix",
      staging,
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      "--save-exact",
      ...packages,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw new Error(
      `npm install ${packages.join(" ")} failed:\n${new TextDecoder().decode(stderr)}`,
    );
  }
  await Deno.writeTextFile(join(staging, ".installed"), packages.join("\n"));
  try {
    await Deno.rename(staging, dir);
  } catch (error) {
    // Another test file won the race: use its copy.
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    if (!(await exists(marker))) throw error;
  }
  return tools;
}

/** Run a command to completion; returns its exit code and combined output. */
export async function runTool(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args: [...args],
    cwd: options.cwd,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}
