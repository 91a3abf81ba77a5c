/**
 * The URL a person can click for a listener: a wildcard address (`0.0.0.0`, `::`) becomes
 * `localhost`, an IPv6 address gets brackets.
 *
 * @example
 * ```ts
 * import { clickableUrl } from "@/runtime/listen-url.ts";
 *
 * clickableUrl("0.0.0.0", 8080); // "http://localhost:8080"
 * clickableUrl("::1", 8080); // "http://[::1]:8080"
 * ```
 *
 * @module
 */

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", ""]);

/** `http://host:port` for a listener bound to `hostname`. */
export function clickableUrl(hostname: string, port: number): string {
  const host = WILDCARDS.has(hostname)
    ? "localhost"
    : hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
  return `http://${host}:${port}`;
}

/**
 * Whether a listener bound to `hostname` is reachable from this machine only (`127.0.0.0/8`,
 * `::1`, `localhost`).
 */
export function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}
