/**
 * Helpers of the deployment tests: find the Debian tools they drive (nginx, prometheus,
 * promtool, docker-compose, python3 with PyYAML), run them, parse YAML, and interpolate compose
 * variables. A test whose tool is missing is skipped with one printed line.
 *
 * @module
 */

export { type BackgroundProcess, startBackground } from "./process.ts";

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url);

/** Absolute path of a file in the repository. */
export function repoPath(relative: string): string {
  return new URL(relative, ROOT).pathname;
}

/** The first of `candidates` that is an executable file, or a `PATH` lookup of `name`. */
export function findTool(name: string, candidates: readonly string[] = []): string | undefined {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  for (const path of [...candidates, ...dirs.map((dir) => `${dir}/${name}`)]) {
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Print the one line that says a test was skipped and why. */
export function reportSkip(test: string, reason: string): void {
  console.log(`SKIPPED ${test}: ${reason}`);
}

/** Outcome of {@link run}. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to completion and capture its output. */
export async function run(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; clearEnv?: boolean; cwd?: string; stdin?: string } = {},
): Promise<RunResult> {
  const child = new Deno.Command(command, {
    args: [...args],
    env: options.env,
    clearEnv: options.clearEnv ?? false,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/**
 * Python with PyYAML (Debian's `python3-yaml`, a dependency of `docker-compose`): the YAML parser
 * of these tests, as the project has none among its dependencies.
 */
const PYTHON_CANDIDATES = ["/usr/bin/python3"];
let yamlPython: Promise<string | undefined> | undefined;

/** The python3 that can `import yaml`, or undefined. */
export function findYamlPython(): Promise<string | undefined> {
  yamlPython ??= (async () => {
    for (const python of [...PYTHON_CANDIDATES, findTool("python3")]) {
      if (!python) continue;
      try {
        const { code } = await run(python, ["-c", "import yaml"]);
        if (code === 0) return python;
      } catch {
        // not runnable
      }
    }
    return undefined;
  })();
  return yamlPython;
}

/** Parse a YAML stream into its documents (JSON-compatible values). */
export async function parseYamlDocuments(text: string): Promise<unknown[]> {
  const python = await findYamlPython();
  if (!python) throw new Error("No python3 with PyYAML: apt-get install python3-yaml");
  const script =
    "import sys, json, yaml\njson.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout, default=str)";
  const result = await run(python, ["-c", script], { stdin: text });
  if (result.code !== 0) throw new Error(`YAML does not parse:\n${result.stderr}`);
  return (JSON.parse(result.stdout) as unknown[]).filter((doc) => doc !== null);
}

/** Parse a YAML file that holds exactly one document. */
export async function parseYamlFile<T = Record<string, unknown>>(relative: string): Promise<T> {
  const docs = await parseYamlDocuments(await Deno.readTextFile(repoPath(relative)));
  if (docs.length !== 1) {
    throw new Error(`${relative}: expected one YAML document, found ${docs.length}`);
  }
  return docs[0] as T;
}

/**
 * Compose's variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?message}`, `${VAR?message}`, `$$`), for a structural check that needs no
 * docker-compose.
 *
 * @throws {Error} with the message of the first required variable that is missing
 */
export function interpolate(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (match, name: string | undefined, operator: string | undefined, argument = "") => {
      if (match === "$$") return "$";
      const value = env[name!];
      const unset = value === undefined || (operator?.startsWith(":") && value === "");
      if (!operator) return value ?? "";
      if (operator.endsWith("-")) return unset ? argument : value!;
      if (unset) throw new Error(`Required variable ${name} is missing: ${argument}`);
      return value!;
    },
  );
}

/** Every `${NAME...}` a compose file refers to. */
export function composeVariables(text: string): Set<string> {
  return new Set(Array.from(text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g), (m) => m[1]!));
}

/** `KEY=value` lines of an env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const eq = trimmed.indexOf("=");
    if (eq <= 0) throw new Error(`Not a KEY=value line: ${line}`);
    entries.set(trimmed.slice(0, eq), trimmed.slice(eq + 1));
  }
  return entries;
}

/** Poll `check` until it returns a value other than undefined, or throw after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Whether `haystack` contains the bytes of `needle`. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array | string): boolean {
  return indexOfBytes(haystack, needle) !== -1;
}

/** Where the bytes of `needle` first occur in `haystack`, or -1. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array | string, from = 0): number {
  const bytes = typeof needle === "string" ? new TextEncoder().encode(needle) : needle;
  if (bytes.length === 0) return from;
  for (
    let at = haystack.indexOf(bytes[0]!, from);
    at !== -1;
    at = haystack.indexOf(bytes[0]!, at + 1)
  ) {
    if (bytes.every((b, i) => haystack[at + i] === b)) return at;
  }
  return -1;
}

/** One raw HTTP/1.1 exchange (no automatic decompression or header merging). */
export async function rawHttp(
  port: number,
  request: string,
): Promise<{ status: number; headers: Array<[string, string]>; body: Uint8Array }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(65_536);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
    let offset = 0;
    for (const chunk of chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    let end = 0;
    while (
      end + 3 < all.length &&
      !(all[end] === 13 && all[end + 1] === 10 && all[end + 2] === 13 && all[end + 3] === 10)
    ) end++;
    const head = new TextDecoder().decode(all.subarray(0, end)).split("\r\n");
    const status = Number(head[0]?.split(" ")[1]);
    const headers = head.slice(1).map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as [
        string,
        string,
      ];
    });
    return { status, headers, body: all.subarray(end + 4) };
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the peer
    }
  }
}

const PROMQL_WORDS = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "count",
  "stddev",
  "stdvar",
  "topk",
  "bottomk",
  "quantile",
  "count_values",
  "group",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression reads (functions, keywords and labels left out). */
export function promqlMetricNames(expr: string): Set<string> {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{?\w+\}?/g, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const before = stripped[match.index - 1] ?? " ";
    const after = stripped.slice(match.index + name.length).trimStart();
    if (/[0-9.]/.test(before)) continue; // the exponent of a number such as 1e-9
    if (after.startsWith("(")) continue; // a function or aggregation
    if (PROMQL_WORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return names;
}

/** Every series name an exposition text offers, histogram and summary suffixes included. */
export function exposedMetricNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    const type = /^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (\w+)/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      names.add(name);
      if (kind === "histogram") {
        for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
      }
      if (kind === "summary") { for (const s of ["_sum", "_count"]) names.add(name + s); }
      continue;
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1]!);
  }
  return names;
}

/** A query of one Grafana panel. */
export interface PanelQuery {
  panel: string;
  expr: string;
}

/** Every Prometheus query of a Grafana dashboard's panels (rows' nested panels included). */
export function dashboardQueries(dashboard: { panels?: unknown[] }): PanelQuery[] {
  const queries: PanelQuery[] = [];
  const visit = (panels: unknown[] = []) => {
    for (const raw of panels) {
      const panel = raw as {
        title?: string;
        type?: string;
        targets?: unknown[];
        panels?: unknown[];
      };
      if (panel.type === "row") {
        visit(panel.panels);
        continue;
      }
      const targets = (panel.targets ?? []) as Array<{ expr?: string }>;
      if (targets.length === 0) throw new Error(`Panel "${panel.title}" has no query`);
      for (const target of targets) {
        if (!target.expr) throw new Error(`Panel "${panel.title}" has a target without expr`);
        queries.push({ panel: panel.title ?? "(untitled)", expr: target.expr });
      }
    }
  };
  visit(dashboard.panels);
  return queries;
}

/** A dashboard query with Grafana's variables replaced, ready for Prometheus' API. */
export function grafanaToPromql(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__interval", "15s")
    .replaceAll("$job", "items-api")
    .replaceAll("$instance", ".*");
}
