/**
 * The layers of README "Layout" and "Adding a resource" hold in the import graph of `src/`, so
 * a copied module cannot quietly reach around them: `lib/` and `middleware/` know no module, a
 * module reaches another only through its service, handlers never touch SQL, and repositories
 * sit below everything that serves HTTP.
 */
import { assertEquals } from "./helpers/assert.ts";

const SRC = new URL("../src/", import.meta.url);

interface Import {
  /** The importing file, relative to `src/` (`modules/items/items.handlers.ts`). */
  from: string;
  /** The imported file, relative to `src/`. */
  to: string;
}

async function sourceFiles(dir: URL, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      files.push(...await sourceFiles(new URL(`${entry.name}/`, dir), `${path}/`));
    } else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** Every `import … from "@/…"` and `export … from "@/…"` in `src/`, types included. */
async function imports(): Promise<Import[]> {
  const found: Import[] = [];
  for (const from of await sourceFiles(SRC)) {
    const text = await Deno.readTextFile(new URL(from, SRC));
    for (const match of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"@\/([^"]+)"/gms)) {
      found.push({ from, to: match[1]! });
    }
  }
  return found;
}

const moduleOf = (path: string) => path.startsWith("modules/") ? path.split("/")[1] : undefined;
const show = (list: Import[]) => list.map((i) => `${i.from} -> ${i.to}`);

const graph = await imports();

Deno.test("the import scan sees the modules it checks", () => {
  // A scan that matched nothing would pass every rule below.
  const fromModules = graph.filter((i) => moduleOf(i.from) !== undefined);
  assertEquals(fromModules.length > 100, true, `only ${fromModules.length} module imports`);
  assertEquals(
    graph.some((i) => i.from === "modules/items/items.handlers.ts"),
    true,
  );
});

Deno.test("lib/ and middleware/ import nothing from modules/", () => {
  const wrong = graph.filter((i) =>
    /^(lib|middleware)\//.test(i.from) && i.to.startsWith("modules/")
  );
  assertEquals(show(wrong), []);
});

Deno.test("a module reaches another module only through that module's service", () => {
  const wrong = graph.filter((i) => {
    const [from, to] = [moduleOf(i.from), moduleOf(i.to)];
    return from !== undefined && to !== undefined && from !== to &&
      !i.to.endsWith(".service.ts");
  });
  assertEquals(show(wrong), []);
});

Deno.test("handlers never import a repository: SQL is reached through the service", () => {
  const wrong = graph.filter((i) =>
    i.from.endsWith(".handlers.ts") && i.to.endsWith("repository.ts")
  );
  assertEquals(show(wrong), []);
});

Deno.test("repositories import only db/, lib/ and their own module's schemas and sorts", () => {
  const wrong = graph.filter((i) => {
    if (!i.from.endsWith("repository.ts")) return false;
    if (/^(db|lib)\//.test(i.to)) return false;
    const own = moduleOf(i.from);
    return !(moduleOf(i.to) === own && /\.(schemas|sorts)\.ts$/.test(i.to));
  });
  assertEquals(show(wrong), []);
});

Deno.test("src/ reads context variables with c.get(), never through c.var", async () => {
  // Hono's `c.var` copies every variable into a new object on each access (src/lib/app-env.ts);
  // mentions in backquotes (documentation) are fine.
  const wrong: string[] = [];
  for (const file of await sourceFiles(SRC)) {
    const text = await Deno.readTextFile(new URL(file, SRC));
    for (const match of text.matchAll(/(?<![`\w.])c\.var\b/g)) {
      wrong.push(`${file}:${text.slice(0, match.index).split("\n").length}`);
    }
  }
  assertEquals(wrong, []);
});
