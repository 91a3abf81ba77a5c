/**
 * The floors of docs/architecture.md hold in the import graph of `src/` (type-only imports
 * count), so a copied module cannot quietly reach around them:
 *
 * - no file imports itself through others (no cycle), and no two units import each other (a
 *   unit is a top-level folder of `src/`, each module, or a file at the root of `src/`);
 * - each floor leans only on the floors below it: `runtime/` on nothing, `config.ts` and
 *   `http/` on `runtime/`, `db/` on those, `middleware/` on those, modules on all of them,
 *   and the root files (`deps.ts`, `app.ts`, `modules.ts`, ...) wire the modules together;
 * - a module reaches another only through that module's service, and a service exports its own
 *   operations, never a repository's; handlers never touch SQL; repositories sit below all that
 *   serves HTTP;
 * - the request context carries request values only: no `deps` on it.
 */
import { assertEquals } from "./helpers/assert.ts";

const SRC = new URL("../src/", import.meta.url);

interface Import {
  /** The importing file, relative to `src/` (`modules/items/items.handlers.ts`). */
  from: string;
  /** The imported file, relative to `src/`. */
  to: string;
  /** `export … from`: the importer passes the imported file's names on. */
  reexport: boolean;
}

async function sourceFiles(dir: URL, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      files.push(...await sourceFiles(new URL(`${entry.name}/`, dir), `${path}/`));
    } else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

const files = await sourceFiles(SRC);
const texts = new Map(
  await Promise.all(files.map(async (f) => [f, await Deno.readTextFile(new URL(f, SRC))] as const)),
);

/** Every `import … from "@/…"` and `export … from "@/…"` in `src/`, types included. */
function imports(): Import[] {
  const found: Import[] = [];
  for (const [from, text] of texts) {
    for (const match of text.matchAll(/^(import|export)\b[^;]*?\bfrom\s+"@\/([^"]+)"/gms)) {
      found.push({ from, to: match[2]!, reexport: match[1] === "export" });
    }
  }
  return found;
}

const moduleOf = (path: string) => path.startsWith("modules/") ? path.split("/")[1] : undefined;
/** The unit a file belongs to: `modules/items`, `http`, or a root file such as `app.ts`. */
export const unitOf = (path: string) => {
  const parts = path.split("/");
  if (parts.length === 1) return path;
  return parts[0] === "modules" ? `modules/${parts[1]}` : parts[0]!;
};
const show = (list: Import[]) => list.map((i) => `${i.from} -> ${i.to}`);

/** Fail with every finding on its own line, so a broken rule reads as a to-do list. */
function assertNone(findings: readonly string[]): void {
  if (findings.length > 0) {
    throw new Error(`${findings.length} found:\n  ${findings.join("\n  ")}`);
  }
}

const graph = imports();

/** Every cycle of the file graph, each as the files it runs through (first file repeated). */
function cycles(): string[][] {
  const edges = new Map<string, string[]>();
  for (const { from, to } of graph) edges.set(from, [...edges.get(from) ?? [], to]);
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return found;
}

/** Pairs of units that import each other, as `a <-> b`. */
function mutualUnits(): string[] {
  const pairs = new Set(graph.map((i) => `${unitOf(i.from)}|${unitOf(i.to)}`));
  const mutual: string[] = [];
  for (const pair of pairs) {
    const [a, b] = pair.split("|") as [string, string];
    if (a < b && pairs.has(`${b}|${a}`)) mutual.push(`${a} <-> ${b}`);
  }
  return mutual.sort();
}

/** What each floor may import besides itself; the root files may import anything. */
const FLOORS: Record<string, RegExp> = {
  runtime: /^$/,
  http: /^runtime$/,
  "config.ts": /^runtime$/,
  db: /^(runtime|config\.ts|http)$/,
  middleware: /^(http|runtime|db|config\.ts)$/,
  modules: /^(middleware|http|runtime|db|config\.ts|modules\/.+)$/,
  cron: /^(runtime|db|config\.ts|modules\/.+)$/,
};

Deno.test("the import scan sees the modules it checks", () => {
  // A scan that matched nothing would pass every rule below.
  const fromModules = graph.filter((i) => moduleOf(i.from) !== undefined);
  assertEquals(fromModules.length > 100, true, `only ${fromModules.length} module imports`);
  assertEquals(graph.some((i) => i.from === "modules/items/items.handlers.ts"), true);
  // The cycle search finds a cycle when there is one.
  graph.push({ from: "http/errors.ts", to: "http/router.ts", reexport: false });
  const planted = cycles().length;
  graph.pop();
  assertEquals(planted > 0, true);
});

Deno.test("no file of src/ imports itself through others", () => {
  assertNone(cycles().map((cycle) => cycle.join(" -> ")));
});

Deno.test("no two folders of src/ (or modules) import each other", () => {
  assertNone(mutualUnits());
});

Deno.test("each floor imports only the floors below it", () => {
  const wrong = graph.filter((i) => {
    const [from, to] = [unitOf(i.from), unitOf(i.to)];
    if (from === to) return false;
    const floor = from.startsWith("modules/") ? "modules" : from;
    const allowed = FLOORS[floor];
    return allowed !== undefined && !allowed.test(to);
  });
  assertNone(show(wrong));
});

Deno.test("a module reaches another module only through that module's service", () => {
  const wrong = graph.filter((i) => {
    const [from, to] = [moduleOf(i.from), moduleOf(i.to)];
    return from !== undefined && to !== undefined && from !== to &&
      !i.to.endsWith(".service.ts");
  });
  assertNone(show(wrong));
});

Deno.test("a service exports its own operations, never a repository's", () => {
  const wrong = graph.filter((i) => i.reexport && i.to.endsWith("repository.ts"));
  assertNone(show(wrong));
});

Deno.test("handlers never import a repository: SQL is reached through the service", () => {
  const wrong = graph.filter((i) =>
    i.from.endsWith(".handlers.ts") && i.to.endsWith("repository.ts")
  );
  assertNone(show(wrong));
});

Deno.test("repositories import only db/, http/, runtime/ and what lies below their service", () => {
  const wrong = graph.filter((i) => {
    if (!i.from.endsWith("repository.ts")) return false;
    if (/^(db|http|runtime)\//.test(i.to)) return false;
    const own = moduleOf(i.from);
    return !(moduleOf(i.to) === own && !/\.(service|handlers|routes|index)\.ts$/.test(i.to));
  });
  assertNone(show(wrong));
});

Deno.test("the request context carries no app dependencies", () => {
  const wrong: string[] = [];
  for (const [file, text] of texts) {
    for (const match of text.matchAll(/c\.(get|set)\("deps"/g)) {
      wrong.push(`${file}:${text.slice(0, match.index).split("\n").length}`);
    }
  }
  assertNone(wrong);
});

Deno.test("src/ reads context variables with c.get(), never through c.var", () => {
  // Hono's `c.var` copies every variable into a new object on each access
  // (src/middleware/app-env.ts); mentions in backquotes (documentation) are fine.
  const wrong: string[] = [];
  for (const [file, text] of texts) {
    for (const match of text.matchAll(/(?<![`\w.])c\.var\b/g)) {
      wrong.push(`${file}:${text.slice(0, match.index).split("\n").length}`);
    }
  }
  assertNone(wrong);
});
