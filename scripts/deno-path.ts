/**
 * Prints the path of the running `deno` executable, which `deno task start` grants
 * `--allow-run` for (`"--allow-run=$(deno run --quiet scripts/deno-path.ts)"`): with WORKERS > 1
 * the service starts its workers by running itself again (src/workers.ts), and nothing else.
 *
 * @module
 */
if (import.meta.main) console.log(Deno.execPath());
