/**
 * Reads a request body once, before validation: 413 past the size limit, 415 for a media type
 * the route does not declare, 400 for JSON that does not parse. Runs after authentication, so
 * anonymous callers cannot make the service read large bodies.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { BadRequestError, ContentTooLargeError, UnsupportedMediaTypeError } from "@/http/errors.ts";

const JSON_TYPE = /^application\/(?:[a-z.-]+\+)?json$/i;
const FORM_TYPE = "application/x-www-form-urlencoded";

async function readLimited(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      // The client went away mid-upload: its request, not the service, failed.
      throw new BadRequestError("Request body could not be read");
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new ContentTooLargeError(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Hand the bytes already read to Hono's validators, which read through this cache. */
function cacheBody(cache: object, key: "text" | "arrayBuffer", value: unknown): void {
  (cache as Record<string, Promise<unknown>>)[key] = Promise.resolve(value);
}

function essence(contentType: string): string {
  return contentType.split(";", 1)[0]!.trim().toLowerCase();
}

/** What every body guard of an app shares: its size limit and the upload tracker. */
export interface BodyLimits {
  /** Largest body accepted, in bytes (BODY_LIMIT). */
  limitBytes: number;
  /** Wraps each upload's read, so shutdown can wait for uploads in progress. */
  trackUpload<T>(read: Promise<T>): Promise<T>;
}

/** Options of {@link bodyGuard}. */
export interface BodyGuardOptions extends BodyLimits {
  /** The media types the route declares for its body. */
  mediaTypes: readonly string[];
}

/**
 * Guard the body of a route that accepts `mediaTypes` (e.g. `["application/json"]`).
 * `defineRoute` adds it to every route that declares a request body.
 */
export function bodyGuard(
  { mediaTypes, limitBytes: limit, trackUpload }: BodyGuardOptions,
): MiddlewareHandler {
  const acceptsJson = mediaTypes.some((t) => JSON_TYPE.test(t));
  const acceptsForm = mediaTypes.includes(FORM_TYPE);
  return async function bodyGuard(c, next) {
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > limit) throw new ContentTooLargeError(limit);
    const raw = c.req.raw;
    const bytes = raw.body ? await trackUpload(readLimited(raw.body, limit)) : new Uint8Array();
    const contentType = c.req.header("content-type");
    if (bytes.byteLength === 0 && !contentType) {
      // No body at all: validation reports the missing fields (422).
      cacheBody(c.req.bodyCache, "arrayBuffer", bytes.buffer);
      return next();
    }
    const type = contentType ? essence(contentType) : "";
    const isJson = acceptsJson && JSON_TYPE.test(type);
    if (!isJson && !(acceptsForm && type === FORM_TYPE)) {
      throw new UnsupportedMediaTypeError(mediaTypes, c.req.method);
    }
    if (isJson) {
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        JSON.parse(text);
      } catch {
        throw new BadRequestError("Malformed JSON in request body");
      }
      cacheBody(c.req.bodyCache, "text", text);
    } else {
      cacheBody(c.req.bodyCache, "arrayBuffer", bytes.buffer);
    }
    await next();
  };
}
