/**
 * Prints the one folder `deno task dev`/`start`/`cli` grant `--allow-ffi` for: the `@node-rs`
 * folder of the npm cache, which holds `@node-rs/argon2` and its prebuilt `.node` file for this
 * platform (`@node-rs/argon2-linux-x64-gnu`, …), wherever `DENO_DIR` puts the cache on this
 * machine. The tasks call it as `"--allow-ffi=$(deno run --quiet scripts/ffi-scope.ts)"`; it
 * needs no permissions (resolving a specifier reads nothing the script could be denied), and it
 * never prints an empty line (`--allow-ffi=` would refuse to start).
 *
 * Without this grant the service still runs, hashing through Web Crypto (see
 * src/runtime/password-backends.ts and docs/decisions.md, "Native Argon2id").
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The `@node-rs` folder above the file `entry` (a `file:` URL inside `@node-rs/argon2`). */
export function ffiScope(entry: string): string {
  const path = fileURLToPath(entry);
  const match = /^(.*[\\/]@node-rs)[\\/]argon2[\\/]/.exec(path);
  if (!match) throw new Error(`@node-rs/argon2 resolved outside an @node-rs folder: ${path}`);
  return match[1]!;
}

/** Printed when the package cannot be resolved: a path that holds nothing, so nothing is granted. */
export const NOTHING = fileURLToPath(new URL("./.no-native-addon", import.meta.url));

if (import.meta.main) {
  try {
    console.log(ffiScope(import.meta.resolve("@node-rs/argon2")));
  } catch (error) {
    // An empty --allow-ffi= would stop the service from starting; hashing can do without it.
    console.error(`ffi-scope: ${(error as Error).message}; passwords hash through Web Crypto`);
    console.log(NOTHING);
  }
}
