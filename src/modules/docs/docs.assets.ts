/**
 * The docs pages' JavaScript and CSS, taken from the npm packages pinned in deno.lock
 * (`@scalar/api-reference`, `swagger-ui-dist`) and served by the service itself: no CDN, so
 * the docs work offline and under a strict Content-Security-Policy.
 *
 * Files are found in the installed package first (`deno run`, `deno test`). A compiled binary
 * holds no npm package it does not import, so for it `deno task docs:assets` copies the same
 * files to `dist/docs-assets/` and `deno compile --include dist/docs-assets/` embeds them; the
 * loader falls back to that folder. Everything is read once, on first use, and kept in memory
 * with its gzip form.
 *
 * @module
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** One file a docs page loads. */
export interface DocsAssetSource {
  /** npm package name. */
  pkg: string;
  /** Path of the file inside the package. */
  file: string;
  /** Media type it is served with. */
  type: string;
}

/** Every asset, by the name it is served under at `/docs/assets/<name>`. */
export const DOCS_ASSET_SOURCES = {
  "scalar/standalone.js": {
    pkg: "@scalar/api-reference",
    file: "dist/browser/standalone.js",
    type: "text/javascript; charset=utf-8",
  },
  "swagger-ui/swagger-ui-bundle.js": {
    pkg: "swagger-ui-dist",
    file: "swagger-ui-bundle.js",
    type: "text/javascript; charset=utf-8",
  },
  "swagger-ui/swagger-ui.css": {
    pkg: "swagger-ui-dist",
    file: "swagger-ui.css",
    type: "text/css; charset=utf-8",
  },
} as const satisfies Record<string, DocsAssetSource>;

/** Name of an asset under `/docs/assets/`. */
export type DocsAssetName = keyof typeof DOCS_ASSET_SOURCES;

/** Where `deno task docs:assets` puts the files for `deno compile --include`. */
export const EMBEDDED_ASSETS_DIR = new URL("../../../dist/docs-assets/", import.meta.url);

/** An asset in memory. */
export interface DocsAsset {
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

/** A docs asset could not be found in the package nor in the embedded folder. */
export class DocsAssetMissingError extends Error {
  override name = "DocsAssetMissingError";
}

const require = createRequire(import.meta.url);

/** The root folder of an installed npm package, or undefined when it is not installed. */
export function packageRoot(pkg: string): string | undefined {
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    return undefined;
  }
  // The entry point may sit deep inside; the root is the folder whose package.json names it.
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(Deno.readTextFileSync(join(dir, "package.json")));
      if (manifest.name === pkg) return dir;
    } catch {
      // not this folder
    }
  }
  return undefined;
}

/** Options of {@link loadDocsAsset}, for tests. */
export interface LoadOptions {
  /** Find a package's root folder; defaults to Node resolution from this module. */
  resolvePackage?: (pkg: string) => string | undefined;
  /** Fallback folder; defaults to {@link EMBEDDED_ASSETS_DIR}. */
  embeddedDir?: URL;
}

/** Read one asset's bytes: from its npm package, else from the embedded folder. */
export async function readDocsAsset(
  name: DocsAssetName,
  options: LoadOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const source: DocsAssetSource = DOCS_ASSET_SOURCES[name];
  const root = (options.resolvePackage ?? packageRoot)(source.pkg);
  const tried: string[] = [];
  if (root !== undefined) {
    const path = join(root, source.file);
    try {
      return await Deno.readFile(path);
    } catch {
      tried.push(path);
    }
  } else {
    tried.push(`npm package ${source.pkg} (not installed)`);
  }
  const embedded = new URL(name, options.embeddedDir ?? EMBEDDED_ASSETS_DIR);
  try {
    return await Deno.readFile(embedded);
  } catch {
    tried.push(embedded.href);
  }
  throw new DocsAssetMissingError(
    `Cannot find docs asset "${name}": looked in ${tried.join(" and ")}`,
  );
}

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function etagOf(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `"${Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

/** Load (once) and hold every docs asset in memory. */
export class DocsAssets {
  readonly #cache = new Map<DocsAssetName, Promise<DocsAsset>>();
  readonly #options: LoadOptions;

  constructor(options: LoadOptions = {}) {
    this.#options = options;
  }

  /** Whether `name` is one of the served assets. */
  static has(name: string): name is DocsAssetName {
    return Object.hasOwn(DOCS_ASSET_SOURCES, name);
  }

  /** The asset, read and compressed on first use; a failed read is retried next time. */
  get(name: DocsAssetName): Promise<DocsAsset> {
    let pending = this.#cache.get(name);
    if (!pending) {
      pending = (async () => {
        const body = await readDocsAsset(name, this.#options);
        return {
          body,
          gzip: await gzip(body),
          type: DOCS_ASSET_SOURCES[name].type,
          etag: await etagOf(body),
        };
      })();
      pending.catch(() => this.#cache.delete(name));
      this.#cache.set(name, pending);
    }
    return pending;
  }
}
