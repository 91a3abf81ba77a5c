/**
 * Conditional requests (RFC 9110 section 13). A representation's strong `ETag` is a 64-bit
 * digest of its JSON text, so it changes when what a client sees changes, and costs no column:
 * `GET` answers 304 to a matching `If-None-Match`; a write with `If-Match` changes nothing and
 * answers 412 unless it names the current representation (checked by the service under the
 * row's lock, see {@link ifMatchPrecondition}); with `REQUIRE_IF_MATCH` a write without it is
 * 428.
 *
 * @example
 * ```ts
 * import { etagOf, ifMatchPrecondition, matchesIfNoneMatch } from "@/http/etag.ts";
 *
 * const tag = etagOf(JSON.stringify({ id: 1, name: "Blue notebook" }));
 * matchesIfNoneMatch(`W/${tag}, "other"`, tag); // true: If-None-Match compares weakly
 * const check = ifMatchPrecondition('"stale"', { required: false });
 * try {
 *   check?.({ id: 1, name: "Blue notebook" }); // throws the 412
 * } catch (error) {
 *   (error as { status: number }).status; // 412
 * }
 * ```
 *
 * @module
 */
import type { Context, TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";
import { PreconditionFailedError, PreconditionRequiredError } from "@/http/errors.ts";
import { digest64 } from "@/runtime/digest.ts";

/**
 * The strong entity tag of a representation: a 64-bit digest of its JSON text, quoted. It only
 * has to change when the representation does (see `digest64` for why not SHA-256).
 */
export function etagOf(json: string): string {
  return `"${digest64(json)}"`;
}

/** The opaque tags of an `If-Match` / `If-None-Match` list; `*` stands alone. */
function tagsOf(header: string): string[] {
  return header.split(",").map((tag) => tag.trim()).filter((tag) => tag !== "");
}

/** Whether `If-None-Match` names `etag` (weak comparison, section 13.1.2) or is `*`. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return tagsOf(header).some((tag) => tag === "*" || tag.replace(/^W\//, "") === etag);
}

/** Whether `If-Match` names `etag` (strong comparison, section 13.1.1) or is `*`. */
export function matchesIfMatch(header: string, etag: string): boolean {
  return tagsOf(header).some((tag) => tag === "*" || tag === etag);
}

/**
 * The check a write runs on the current representation, under its lock: undefined when the
 * request has no `If-Match` (and none is required); 428 at once when one is required and
 * missing.
 */
export function ifMatchPrecondition(
  header: string | undefined,
  options: { required: boolean },
): ((current: unknown) => void) | undefined {
  if (header === undefined) {
    if (options.required) throw new PreconditionRequiredError();
    return undefined;
  }
  return (current) => {
    if (!matchesIfMatch(header, etagOf(JSON.stringify(current)))) {
      throw new PreconditionFailedError();
    }
  };
}

/** What `c.json(value, status)` answers, as its type. */
type JsonResponse<T, S extends 200 | 201> = Response & TypedResponse<JSONParsed<T>, S, "json">;

/**
 * Answer `value` as JSON with its `ETag` (serialized once, as `c.json` would), or, for a read,
 * 304 without a body when the request's `If-None-Match` already names it. Typed as `c.json`'s
 * answer, so a handler's route type still checks the body; a route that may answer 304
 * declares it.
 */
export function jsonWithEtag<T, S extends 200 | 201>(
  c: Context,
  value: T,
  status: S,
): JsonResponse<T, S> {
  const json = JSON.stringify(value);
  const etag = etagOf(json);
  const read = c.req.method === "GET" || c.req.method === "HEAD";
  if (read && matchesIfNoneMatch(c.req.header("if-none-match"), etag)) {
    return c.body(null, 304, { ETag: etag }) as unknown as JsonResponse<T, S>;
  }
  // One header through Hono keeps its fast path (a plain record, no Headers built and filled
  // one `set` at a time); the tag joins the headers the response already has.
  const response = c.body(json, status, { "Content-Type": "application/json" });
  response.headers.set("ETag", etag);
  return response as unknown as JsonResponse<T, S>;
}
