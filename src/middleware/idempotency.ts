/**
 * `Idempotency-Key` on creates (draft-ietf-httpapi-idempotency-key-header): a POST retried after
 * a timeout or a dropped connection is answered with the first answer instead of creating
 * twice. The first request reserves the key (scoped to the caller, with a fingerprint of the
 * request) in the database, so every instance sees it; its answer — status, the headers that
 * matter, body — is stored with the key for IDEMPOTENCY_TTL and replayed to a repeat, marked
 * `Idempotent-Replayed: true`. The same key with a different request is 422; a repeat while the
 * first still runs is 409. Without the header a request behaves as it always did.
 *
 * A route opts in with `idempotent()` among its middleware; the router puts this middleware
 * after authentication (the caller scopes the key) and after the body guard (the body is read
 * within its limit).
 *
 * @example
 * ```ts
 * import { parseIdempotencyKey } from "@/middleware/idempotency.ts";
 *
 * parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"'); // the key, unquoted
 * parseIdempotencyKey("two words"); // undefined: a 422
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { UniqueViolationError } from "@/db/database.ts";
import {
  completeIdempotencyKey,
  deleteIdempotencyKey,
  findIdempotencyKey,
  reserveIdempotencyKey,
} from "@/db/idempotency.repository.ts";
import { AppError, ConflictError, ValidationError } from "@/http/errors.ts";
import { declareIdempotent } from "@/http/router.ts";
import type { AppEnv } from "@/middleware/app-env.ts";
import type { Clock } from "@/runtime/clock.ts";
import { getAppLogger } from "@/runtime/logger.ts";

/** The request header naming the key. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";

/** Marks an answer that was replayed from a stored one. */
export const REPLAYED_HEADER = "Idempotent-Replayed";

/** The headers of an answer kept with it (the rest are the app's own, set again on replay). */
const STORED_HEADERS = ["content-type", "location", "etag", "cache-control"] as const;

/** 1 to 255 visible ASCII characters (an optional pair of quotes around them is dropped). */
const KEY = /^[\x21-\x7E]{1,255}$/;

/**
 * The key of an `Idempotency-Key` header: its value without the quotes of a Structured Field
 * string; undefined when empty, longer than 255 characters or not visible ASCII.
 */
export function parseIdempotencyKey(header: string): string | undefined {
  const value = header.length >= 2 && header.startsWith('"') && header.endsWith('"')
    ? header.slice(1, -1)
    : header;
  return KEY.test(value) && !value.includes('"') ? value : undefined;
}

/** Declare that a create route takes an `Idempotency-Key` (see the module documentation). */
export function idempotent(): MiddlewareHandler<AppEnv> {
  return declareIdempotent() as MiddlewareHandler<AppEnv>;
}

/** What {@link idempotency} is created with. */
export interface IdempotencyOptions {
  clock: Clock;
  /** How long an answer is kept for repeats (IDEMPOTENCY_TTL). */
  ttlMs: number;
  /**
   * A reservation whose request never finished (its instance died) is taken over after this;
   * longer than any request may run (REQUEST_TIMEOUT).
   */
  abandonAfterMs: number;
}

/** 422: the key was first used for another request. */
class IdempotencyKeyReusedError extends AppError {
  constructor() {
    super(
      422,
      "idempotency_key_reused",
      "This Idempotency-Key was used for a different request; use a new key for a new request",
    );
  }
}

/** The fingerprint of a request: what a repeat must send again. */
function fingerprintOf(method: string, path: string, body: string): string {
  return createHash("sha256").update(`${method} ${path}\n${body}`).digest("hex");
}

/** The middleware that serves `idempotent()` routes. */
export function idempotency(options: IdempotencyOptions): MiddlewareHandler<AppEnv> {
  const { clock, ttlMs, abandonAfterMs } = options;
  const log = getAppLogger("idempotency");
  return async function idempotency(c, next) {
    const header = c.req.header("idempotency-key");
    if (header === undefined) return next();
    const key = parseIdempotencyKey(header);
    if (key === undefined) {
      throw new ValidationError([{
        path: `header.${IDEMPOTENCY_KEY_HEADER}`,
        message: "Expected 1 to 255 visible ASCII characters",
      }]);
    }
    const principal = c.get("principal");
    const caller = principal ? `u:${principal.user.id}` : `a:${c.get("clientIp")}`;
    const fingerprint = fingerprintOf(c.req.method, c.req.path, await c.req.text());
    const db = c.get("db");
    const now = clock.now();
    let id: number | undefined;
    // Two rounds: an expired or abandoned key found in the first is deleted and taken over.
    for (let round = 0; round < 2 && id === undefined; round++) {
      try {
        id = await reserveIdempotencyKey(db, {
          caller,
          key,
          fingerprint,
          now,
          expiresAt: new Date(now.getTime() + ttlMs),
        });
      } catch (error) {
        if (!(error instanceof UniqueViolationError)) throw error;
        const found = await findIdempotencyKey(db, caller, key);
        if (!found) continue;
        const abandoned = found.status === null &&
          found.createdAt.getTime() <= now.getTime() - abandonAfterMs;
        if (found.expiresAt.getTime() <= now.getTime() || abandoned) {
          await deleteIdempotencyKey(db, found.id);
          continue;
        }
        if (found.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
        if (found.status === null) {
          throw new ConflictError(
            "A request with this Idempotency-Key is still in progress; retry shortly",
            { headers: { "Retry-After": "1" } },
          );
        }
        const empty = found.status === 204 || found.status === 304;
        return new Response(empty ? null : found.body, {
          status: found.status,
          headers: { ...found.headers, [REPLAYED_HEADER]: "true" },
        });
      }
    }
    if (id === undefined) {
      throw new ConflictError("This Idempotency-Key is being reused concurrently; retry shortly", {
        headers: { "Retry-After": "1" },
      });
    }
    await next();
    const res = c.res;
    // A failure a retry may fix is not kept: the key is free again.
    if (res.status >= 500 || res.status === 429) {
      await deleteIdempotencyKey(db, id).catch((error) =>
        log.warning("Could not release an idempotency key: {error}", { error })
      );
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of STORED_HEADERS) {
      const value = res.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    try {
      await completeIdempotencyKey(db, id, {
        status: res.status,
        headers,
        body: await res.clone().text(),
      });
    } catch (error) {
      // The create happened: answer it. A repeat gets 409 until the reservation is abandoned.
      log.warning("Could not store the answer of an idempotent request: {error}", { error });
    }
  };
}
