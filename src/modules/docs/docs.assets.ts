/**
 * The docs pages' JavaScript and CSS, taken from the npm packages pinned in deno.lock
 * (`@scalar/api-reference`, `swagger-ui-dist`) and served by the service itself: no CDN, so
 * the docs work offline and under a strict Content-Security-Policy.
 *
 * Swagger UI's files are found in the installed package first (`deno run`, `deno test`). Scalar's
 * one bundle is not an npm dependency: `@scalar/api-reference` depends on Scalar's whole editor
 * (about 190 MB in some 120 packages) while the page needs one 4 MB file, so the pinned tarball
 * alone is fetched (its sha512 checked, the file taken out, nothing installed) into
 * `dist/docs-assets/` by `deno task docs:assets`, or on first use when that folder lacks it. A
 * compiled binary holds no npm package it does not import, so for it `deno task docs:assets`
 * copies every file to `dist/docs-assets/` and `deno compile --include dist/docs-assets/` embeds
 * them; the loader falls back to that folder. Everything is read once, on first use, and kept in
 * memory with its gzip form.
 *
 * @module
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** One file a docs page loads, from an installed npm package. */
export interface PackageAssetSource {
  /** npm package name. */
  pkg: string;
  /** Path of the file inside the package. */
  file: string;
  /** Media type it is served with. */
  type: string;
}

/** One file a docs page loads, taken out of an npm tarball that is not installed. */
export interface TarballAssetSource {
  /** The tarball's address on the npm registry (a pinned version). */
  tarball: string;
  /** The registry's `dist.integrity` of that tarball (`sha512-<base64>`). */
  integrity: string;
  /** Path of the file inside the tarball. */
  file: string;
  /** Media type it is served with. */
  type: string;
}

/** Where one docs file comes from. */
export type DocsAssetSource = PackageAssetSource | TarballAssetSource;

/** Every asset, by the name it is served under at `/docs/assets/<name>`. */
export const DOCS_ASSET_SOURCES = {
  // `npm view @scalar/api-reference@1.72.1 dist.tarball dist.integrity`
  "scalar/standalone.js": {
    tarball: "https://registry.npmjs.org/@scalar/api-reference/-/api-reference-1.72.1.tgz",
    integrity:
      "sha512-XpEJ0rfc/cXbCrR+iC4kK0o/WwX2dTtGQbT049OlPKAHD6IMIFdTeGz2r+M27P2EDWKyUITRm/NzlP8z2pw/Ow==",
    file: "package/dist/browser/standalone.js",
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
  const embedded = new URL(name, options.embeddedDir ?? EMBEDDED_ASSETS_DIR);
  if ("tarball" in source) {
    try {
      return await Deno.readFile(embedded);
    } catch {
      const bytes = await fileFromTarball(source);
      try {
        await Deno.mkdir(new URL(".", embedded), { recursive: true });
        await Deno.writeFile(embedded, bytes);
      } catch {
        // a read-only folder: kept in memory only
      }
      return bytes;
    }
  }
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
  try {
    return await Deno.readFile(embedded);
  } catch {
    tried.push(embedded.href);
  }
  throw new DocsAssetMissingError(
    `Cannot find docs asset "${name}": looked in ${tried.join(" and ")}`,
  );
}

/**
 * Fetch a tarball, check it against its registry integrity, and return one file of it (plain
 * ustar records after gunzip: a 512-byte header, then the body padded to 512 bytes).
 */
export async function fileFromTarball(
  source: TarballAssetSource,
): Promise<Uint8Array<ArrayBuffer>> {
  const response = await fetch(source.tarball, { signal: AbortSignal.timeout(60_000) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new DocsAssetMissingError(`GET ${source.tarball}: ${response.status}`);
  }
  const packed = new Uint8Array(await response.arrayBuffer());
  const [algorithm, expected] = source.integrity.split("-", 2) as [string, string];
  if (algorithm !== "sha512") throw new DocsAssetMissingError(`unsupported ${algorithm}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", packed));
  if (btoa(String.fromCharCode(...digest)) !== expected) {
    throw new DocsAssetMissingError(`${source.tarball} does not match ${source.integrity}`);
  }
  const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
  const tar = new Uint8Array(await new Response(stream).arrayBuffer());
  const text = (from: number, length: number) => {
    const field = tar.subarray(from, from + length);
    const end = field.indexOf(0);
    return new TextDecoder().decode(end === -1 ? field : field.subarray(0, end));
  };
  for (let at = 0; at + 512 <= tar.length;) {
    const name = text(at, 100);
    if (name === "") break;
    const prefix = text(at + 345, 155);
    const size = parseInt(text(at + 124, 12).trim() || "0", 8);
    const path = prefix === "" ? name : `${prefix}/${name}`;
    const body = at + 512;
    if (path === source.file) return tar.slice(body, body + size);
    at = body + Math.ceil(size / 512) * 512;
  }
  throw new DocsAssetMissingError(`${source.file} is not in ${source.tarball}`);
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
