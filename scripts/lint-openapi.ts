/**
 * Lint the service's OpenAPI document with Spectral and the OWASP API Security ruleset
 * (`.spectral.yaml`). Builds the app over an in-memory SQLite database, writes its
 * `/openapi.json` to a temporary file and runs the pinned Spectral CLI on it. Exits non-zero on
 * any error; warnings are printed, with a count per rule.
 *
 * Spectral and the ruleset are npm packages, installed once (exact versions) into a tool folder
 * under the system temp directory and reused by later runs.
 *
 * Usage: `deno task lint:openapi [--save <path>]` (`--save` also keeps the linted document).
 *
 * @module
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestApp } from "../tests/helpers/app.ts";

/** Pinned tool versions; bump them deliberately. */
export const SPECTRAL_CLI_VERSION = "6.16.3";
export const OWASP_RULESET_VERSION = "2.0.1";

const RULESET = new URL("../.spectral.yaml", import.meta.url).pathname;
const TOOL_DIR = join(
  tmpdir(),
  "items-api-tools",
  `spectral-${SPECTRAL_CLI_VERSION}-owasp-${OWASP_RULESET_VERSION}`,
);
const SPECTRAL_BIN = join(
  TOOL_DIR,
  "node_modules",
  "@stoplight",
  "spectral-cli",
  "dist",
  "index.js",
);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const { code } = await new Deno.Command(cmd, { args, env, stdout: "inherit", stderr: "inherit" })
    .output();
  return code;
}

/** Install the pinned packages into {@link TOOL_DIR} unless they are there already. */
async function ensureSpectral(): Promise<void> {
  if (await exists(SPECTRAL_BIN)) return;
  const started = performance.now();
  console.log(
    `Installing Spectral ${SPECTRAL_CLI_VERSION} and the OWASP ruleset ${OWASP_RULESET_VERSION}`,
  );
  // Install into a fresh folder and rename it into place, so concurrent runs never see half.
  await Deno.mkdir(join(TOOL_DIR, ".."), { recursive: true });
  const staging = await Deno.makeTempDir({ dir: join(TOOL_DIR, ".."), prefix: "staging-" });
  const code = await run("npm", [
    "install",
    "--prefix",
    staging,
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    `@stoplight/spectral-cli@${SPECTRAL_CLI_VERSION}`,
    `@stoplight/spectral-owasp-ruleset@${OWASP_RULESET_VERSION}`,
  ]);
  if (code !== 0) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw new Error(`npm install failed with exit code ${code}`);
  }
  try {
    await Deno.rename(staging, TOOL_DIR);
  } catch (error) {
    // Another run won the race: use its copy.
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    if (!(await exists(SPECTRAL_BIN))) throw error;
  }
  console.log(`Installed in ${Math.round(performance.now() - started)} ms`);
}

/** The current document, as `/openapi.json` serves it. */
async function currentDocument(): Promise<string> {
  const app = await createTestApp("sqlite");
  try {
    const res = await app.request("GET", "/openapi.json");
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
    return await res.text();
  } finally {
    await app.close();
  }
}

interface SpectralResult {
  code: string;
  severity: number;
  path: string[];
  message: string;
}

const SEVERITY = ["error", "warning", "information", "hint"];

async function main(args: string[]): Promise<number> {
  const saveIndex = args.indexOf("--save");
  const savePath = saveIndex >= 0 ? args[saveIndex + 1] : undefined;
  const started = performance.now();
  await ensureSpectral();
  const dir = await Deno.makeTempDir({ prefix: "items-api-openapi-" });
  try {
    const documentPath = join(dir, "openapi.json");
    const document = await currentDocument();
    await Deno.writeTextFile(documentPath, document);
    if (savePath) await Deno.writeTextFile(savePath, document);
    const resultsPath = join(dir, "spectral.json");
    // Two passes would double the time; one JSON run, then print it ourselves.
    const code = await run("node", [
      SPECTRAL_BIN,
      "lint",
      documentPath,
      "--ruleset",
      RULESET,
      "--format",
      "json",
      "--output",
      resultsPath,
      "--fail-severity",
      "error",
      "--quiet",
    ], { NODE_PATH: join(TOOL_DIR, "node_modules") });
    const results: SpectralResult[] = (await exists(resultsPath))
      ? JSON.parse(await Deno.readTextFile(resultsPath))
      : [];
    if (code !== 0 && results.length === 0) {
      console.error(`Spectral failed (exit code ${code}) without results`);
      return code || 1;
    }
    for (const r of results) {
      console.log(
        `${SEVERITY[r.severity] ?? r.severity} ${r.code} at ${r.path.join(".")}: ${r.message}`,
      );
    }
    const counts = new Map<string, number>();
    for (const r of results) {
      const key = `${SEVERITY[r.severity] ?? r.severity} ${r.code}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    console.log("\nSummary:");
    for (const [key, n] of [...counts].sort()) console.log(`  ${n} x ${key}`);
    const errors = results.filter((r) => r.severity === 0).length;
    const warnings = results.filter((r) => r.severity === 1).length;
    console.log(
      `OpenAPI lint: ${errors} errors, ${warnings} warnings (${
        Math.round(performance.now() - started)
      } ms)`,
    );
    return errors > 0 ? 1 : code;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
