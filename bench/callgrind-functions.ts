/**
 * `deno run -A bench/callgrind-functions.ts <dir> [requests] [top]`: where the instructions of a
 * `BENCH_CALLGRIND_KEEP=<dir> deno task bench:instructions` run went, function by function.
 *
 * Callgrind cannot name V8's generated code (the JIT's functions, builtins, regular
 * expressions): it only sees addresses. With `BENCH_CALLGRIND_KEEP`, the service runs with
 * V8's `--perf-basic-prof` (a map of every code object's address range and name) and callgrind
 * records instructions per address (`--dump-instr=yes`); this script joins the two. Code
 * outside the map keeps callgrind's name: a shared library's symbol, or an address in Deno's
 * stripped binary (its Rust and C++: HTTP, ops, V8's runtime and garbage collector).
 *
 * Prints, per request, the instructions of the main thread's first dump (the first case) by
 * kind (JS, Builtin, RegExp, Deno's binary, libc) and the top functions by self cost. Files are
 * summed per script (`file:///…/lib/index.js`) in a second list.
 *
 * @module
 */

interface CodeRange {
  start: number;
  end: number;
  name: string;
}

/** V8's perf map: `<start hex> <size hex> <name>` per line. */
function readPerfMap(text: string): CodeRange[] {
  const ranges: CodeRange[] = [];
  for (const line of text.split("\n")) {
    const first = line.indexOf(" ");
    const second = line.indexOf(" ", first + 1);
    if (first === -1 || second === -1) continue;
    const start = parseInt(line.slice(0, first), 16);
    const size = parseInt(line.slice(first + 1, second), 16);
    ranges.push({ start, end: start + size, name: line.slice(second + 1) });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

function lookup(ranges: CodeRange[], address: number): string | undefined {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const range = ranges[mid]!;
    if (address < range.start) high = mid - 1;
    else if (address >= range.end) low = mid + 1;
    else return range.name;
  }
  return undefined;
}

/**
 * Self instructions per name from a callgrind dump written with `--dump-instr=yes`
 * (`positions: instr line`): cost lines are `<address> <line> <Ir>`, addresses absolute
 * (`0x…`) or relative to the previous one (`+n`, `-n`, `*`); the line after `calls=` is the
 * inclusive cost of a call, not self cost.
 */
function selfCosts(dump: string, ranges: CodeRange[]): Map<string, number> {
  const costs = new Map<string, number>();
  const objects = new Map<string, string>();
  const functions = new Map<string, string>();
  const named = (table: Map<string, string>, spec: string) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!match) return spec;
    if (match[2] !== undefined) table.set(match[1]!, match[2]);
    return table.get(match[1]!) ?? spec;
  };
  let object = "?";
  let fn = "?";
  let last = 0;
  let skipCall = false;
  for (const line of dump.split("\n")) {
    const c = line[0];
    if (c === undefined) continue;
    if (line.startsWith("ob=")) object = named(objects, line.slice(3));
    else if (line.startsWith("cob=")) named(objects, line.slice(4));
    else if (line.startsWith("fn=")) fn = named(functions, line.slice(3));
    else if (line.startsWith("cfn=")) named(functions, line.slice(4));
    else if (line.startsWith("calls=")) skipCall = true;
    else if ((c >= "0" && c <= "9") || c === "+" || c === "-" || c === "*") {
      const [position = "", , ir = "0"] = line.split(" ");
      if (position.startsWith("0x")) last = parseInt(position, 16);
      else if (c === "+") last += Number(position.slice(1));
      else if (c === "-") last -= Number(position.slice(1));
      if (skipCall) {
        skipCall = false;
        continue;
      }
      const name = lookup(ranges, last) ??
        `[${object.split("/").at(-1)}] ${fn}`;
      costs.set(name, (costs.get(name) ?? 0) + Number(ir));
    }
  }
  return costs;
}

function kindOf(name: string): string {
  if (name.startsWith("[")) return name.slice(1, name.indexOf("]"));
  return name.split(/[: ]/, 1)[0]!;
}

function scriptOf(name: string): string | undefined {
  return /((?:file|ext):\S+?)(?::\d+:\d+)?$/.exec(name)?.[1];
}

function top(costs: Map<string, number>, n: number, requests: number): string[] {
  return [...costs].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, ir]) =>
    `${(ir / requests / 1000).toFixed(2).padStart(8)}k  ${name.slice(0, 160)}`
  );
}

async function main(): Promise<void> {
  const [dir, requestsText = "1000", topText = "60"] = Deno.args;
  if (!dir) {
    console.error(
      "usage: bench/callgrind-functions.ts <BENCH_CALLGRIND_KEEP dir> [requests] [top]",
    );
    Deno.exit(2);
  }
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  const dumpName = names.find((n) => /^cg\.\d+\.1-01$/.test(n));
  const mapName = names.find((n) => /^perf-\d+\.map$/.test(n));
  if (!dumpName || !mapName) throw new Error(`No cg.<pid>.1-01 and perf-<pid>.map in ${dir}`);
  const requests = Number(requestsText);
  const costs = selfCosts(
    await Deno.readTextFile(`${dir}/${dumpName}`),
    readPerfMap(await Deno.readTextFile(`${dir}/${mapName}`)),
  );
  const byKind = new Map<string, number>();
  const byScript = new Map<string, number>();
  let total = 0;
  for (const [name, ir] of costs) {
    total += ir;
    byKind.set(kindOf(name), (byKind.get(kindOf(name)) ?? 0) + ir);
    const script = scriptOf(name);
    if (script) byScript.set(script, (byScript.get(script) ?? 0) + ir);
  }
  console.log(`${(total / requests / 1000).toFixed(1)}k instructions per request (main thread)`);
  console.log(top(byKind, 10, requests).join("\n"));
  console.log("\nFunctions (self):");
  console.log(top(costs, Number(topText), requests).join("\n"));
  console.log("\nScripts (self):");
  console.log(top(byScript, 30, requests).join("\n"));
}

if (import.meta.main) await main();
