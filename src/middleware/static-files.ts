/**
 * Serve the files of `static/` at `/`. The folder is read once, on first use, and kept in
 * memory (it is small), so it also works inside the compiled binary.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";

const TYPES: Record<string, string> = {
  png: "image/png",
  svg: "image/svg+xml",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  html: "text/html; charset=utf-8",
  webmanifest: "application/manifest+json",
};

interface StaticFile {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

async function loadFolder(root: URL, prefix = "/", files = new Map<string, StaticFile>()) {
  for await (const entry of Deno.readDir(root)) {
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory) {
      await loadFolder(new URL(`${entry.name}/`, root), `${prefix}${entry.name}/`, files);
    } else if (entry.isFile) {
      const body = await Deno.readFile(new URL(entry.name, root));
      const digest = await crypto.subtle.digest("SHA-256", body);
      const etag = `"${
        Array.from(new Uint8Array(digest).slice(0, 12), (b) => b.toString(16).padStart(2, "0"))
          .join("")
      }"`;
      const extension = entry.name.split(".").pop()?.toLowerCase() ?? "";
      files.set(`${prefix}${entry.name}`, {
        body,
        type: TYPES[extension] ?? "application/octet-stream",
        etag,
      });
    }
  }
  return files;
}

/** Options of {@link staticFiles}. */
export interface StaticFilesOptions {
  /** The folder served, as a `file:` URL. */
  root: URL;
}

/** Serve files under `root` for GET and HEAD; anything else falls through. */
export function staticFiles({ root }: StaticFilesOptions): MiddlewareHandler<AppEnv> {
  let files: Promise<Map<string, StaticFile>> | undefined;
  return async function staticFiles(c, next) {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return next();
    files ??= loadFolder(root).catch(() => new Map());
    const file = (await files).get(c.req.path);
    if (!file) return next();
    const headers = {
      "Content-Type": file.type,
      "Cache-Control": "public, max-age=3600",
      ETag: file.etag,
    };
    if (c.req.header("if-none-match") === file.etag) return c.body(null, 304, headers);
    return c.body(file.body, 200, headers);
  };
}
