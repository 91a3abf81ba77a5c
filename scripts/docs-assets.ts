/**
 * Copy the docs pages' assets out of their npm packages (the versions pinned in deno.lock, and
 * Scalar's bundle out of its pinned tarball, fetched alone) into
 * `dist/docs-assets/`, for `deno compile --include dist/docs-assets/`. A compiled binary holds
 * only the npm packages its code imports, and the docs load these files at run time, so the
 * compile step runs this first. `deno run` and the tests read the packages directly.
 *
 * Usage: `deno task docs:assets`
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DOCS_ASSET_SOURCES,
  type DocsAssetName,
  EMBEDDED_ASSETS_DIR,
  fileFromTarball,
  packageRoot,
} from "@/modules/docs/docs.assets.ts";

const target = fileURLToPath(EMBEDDED_ASSETS_DIR);
let total = 0;
for (
  const [name, source] of Object.entries(DOCS_ASSET_SOURCES) as [
    DocsAssetName,
    typeof DOCS_ASSET_SOURCES[DocsAssetName],
  ][]
) {
  const to = join(target, name);
  await Deno.mkdir(dirname(to), { recursive: true });
  let from: string;
  if ("tarball" in source) {
    await Deno.writeFile(to, await fileFromTarball(source));
    from = source.tarball;
  } else {
    const root = packageRoot(source.pkg);
    if (root === undefined) {
      console.error(`npm package ${source.pkg} is not installed: run deno install first`);
      Deno.exit(1);
    }
    await Deno.copyFile(join(root, source.file), to);
    from = root;
  }
  const { size } = await Deno.stat(to);
  total += size;
  console.log(`${to} (${(size / 1024).toFixed(0)} KiB, from ${from})`);
}
console.log(`${(total / 1024 / 1024).toFixed(1)} MiB of docs assets in ${target}`);
