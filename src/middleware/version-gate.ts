/**
 * The client-version gate: reads `X-Version` on API routes and refuses retired clients with
 * 426 before authentication runs. Decisions come from the in-memory versions cache, so the
 * gate costs a map lookup per request and never queries the database.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";
import { AppError } from "@/http/errors.ts";
import type { Clock } from "@/runtime/clock.ts";

/** The request header a client names its version in. */
export const VERSION_HEADER = "X-Version";

/** The `detail` of every 426, as the reference app worded it. */
export const VERSION_NOT_SUPPORTED = "Version not supported anymore";

/** Longest version string the table holds; longer values are unknown by definition. */
const MAX_VERSION_LENGTH = 32;

/** What the gate does with one `X-Version` value, computed once per reload. */
export interface VersionPolicy {
  readonly version: string;
  readonly supported: boolean;
  /** `Deprecation` header value (RFC 9745 structured date, `@<unix seconds>`), if deprecated. */
  readonly deprecation: string | undefined;
  /** `Sunset` header value (RFC 8594 HTTP-date), if a sunset date is set. */
  readonly sunset: string | undefined;
  /** The sunset as epoch milliseconds: from then on the version is refused. */
  readonly sunsetMs: number | undefined;
}

/** Whether a client sending `policy.version` may be served at `nowMs`. */
export function isUsable(policy: VersionPolicy, nowMs: number): boolean {
  return policy.supported && (policy.sunsetMs === undefined || nowMs < policy.sunsetMs);
}

/** What the gate reads of the versions table: a policy per version, and what to suggest. */
export interface GateSnapshot {
  /** Gate policy by exact version string. */
  readonly policies: ReadonlyMap<string, VersionPolicy>;
  /** The highest version clients may use (non-deprecated preferred); null when none. */
  readonly latest: string | null;
  /** Every version clients may use, highest first. */
  readonly usable: readonly string[];
}

/** 426: the client's version is unknown, unsupported or past its sunset. */
export class VersionNotSupportedError extends AppError {
  override name = "VersionNotSupportedError";
  constructor(snapshot: GateSnapshot) {
    super(426, "version_not_supported", VERSION_NOT_SUPPORTED, {
      extensions: { latest_version: snapshot.latest, supported_versions: snapshot.usable },
    });
  }
}

/** Options of {@link versionGate}. */
export interface VersionGateOptions {
  /**
   * Path prefixes the gate applies to (an allow-list): `/items` covers `/items` and
   * `/items/...`. Everything else (health, docs, `/openapi.json`, `/versions`, static files,
   * `/`) is never gated.
   */
  paths: readonly string[];
  /** Where the policies come from: the in-memory versions table. */
  versions: {
    readonly snapshot: GateSnapshot | undefined;
    load(): Promise<GateSnapshot>;
  };
  clock: Clock;
  /** Called once per refused request, before the 426 is thrown (e.g. to count it). */
  onReject?: (version: string) => void;
}

/** Whether `path` is `prefix` itself or below it. */
function under(path: string, prefix: string): boolean {
  return path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === "/");
}

/**
 * Refuse unknown, unsupported and sunset versions with 426; mark deprecated ones with
 * `Deprecation` (RFC 9745) and `Sunset` (RFC 8594). No header: allowed. An empty header counts
 * as none. Sets the `apiVersion` variable for the access log.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { type AppError, problemResponse } from "@/http/errors.ts";
 * import type { AppEnv } from "@/middleware/app-env.ts";
 * import { versionGate } from "@/middleware/version-gate.ts";
 * import { VersionsCache } from "@/modules/versions/client-versions.ts";
 * import { systemClock } from "@/runtime/clock.ts";
 *
 * // The app passes `deps.versions`, the versions table that `createDeps` keeps loaded.
 * const row = { deprecated: false, deprecated_at: null, sunset_at: null };
 * const versions = new VersionsCache({
 *   load: () =>
 *     Promise.resolve([
 *       { ...row, id: 1, version: "1.0", supported: false },
 *       { ...row, id: 2, version: "2.0", supported: true },
 *     ]),
 *   refreshMs: 60_000,
 *   clock: systemClock,
 * });
 * const app = new Hono<AppEnv>()
 *   .use(versionGate({ paths: ["/items"], versions, clock: systemClock }))
 *   .get("/items", (c) => c.json([]));
 * // As the app's error handler answers every AppError:
 * app.onError((error) => problemResponse((error as AppError).toProblem("-")));
 * await app.request("/items", { headers: { "X-Version": "2.0" } }); // 200
 * await app.request("/items", { headers: { "X-Version": "1.0" } }); // 426, latest_version "2.0"
 * await app.request("/items"); // 200: no X-Version, no gate
 * ```
 */
export function versionGate(options: VersionGateOptions): MiddlewareHandler<AppEnv> {
  const prefixes = [...options.paths];
  const { versions, clock, onReject } = options;
  return async function versionGate(c, next) {
    const path = c.req.path;
    if (!prefixes.some((prefix) => under(path, prefix))) return next();
    const version = c.req.header(VERSION_HEADER);
    if (!version) return next();

    // Loaded at startup; only an app that was never started pays for one load, once.
    const snapshot = versions.snapshot ?? await versions.load();
    c.set("apiVersion", version.slice(0, MAX_VERSION_LENGTH));
    const policy = snapshot.policies.get(version);
    if (!policy || !isUsable(policy, clock.now().getTime())) {
      onReject?.(version);
      throw new VersionNotSupportedError(snapshot);
    }
    await next();
    if (policy.deprecation !== undefined) c.header("Deprecation", policy.deprecation);
    if (policy.sunset !== undefined) c.header("Sunset", policy.sunset);
  };
}
