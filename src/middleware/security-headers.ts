/**
 * Security headers on every response. A route that needs another Content-Security-Policy
 * (the docs pages) sets its own; everything else gets the strict API default.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";

const API_CSP = "default-src 'none'; frame-ancestors 'none'";
const ALWAYS: ReadonlyArray<readonly [string, string]> = [
  ["Strict-Transport-Security", "max-age=31536000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "DENY"],
  ["Referrer-Policy", "no-referrer"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Cross-Origin-Resource-Policy", "same-origin"],
];

/** The headers an API JSON response carries, for answers made outside the middleware chain. */
export const API_SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ...ALWAYS,
  ["Content-Security-Policy", API_CSP],
];

/** Add security headers; API JSON also gets `Cache-Control: no-store`. */
export function securityHeaders(): MiddlewareHandler<AppEnv> {
  return async function securityHeaders(c, next) {
    await next();
    const headers = c.res.headers;
    for (const [name, value] of ALWAYS) headers.set(name, value);
    if (!headers.has("Content-Security-Policy")) headers.set("Content-Security-Policy", API_CSP);
    if (!headers.has("Cache-Control") && headers.get("Content-Type")?.includes("json")) {
      headers.set("Cache-Control", "no-store");
    }
  };
}
