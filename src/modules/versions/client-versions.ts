/**
 * Client versions as the `X-Version` gate sees them: the policy of each version, computed
 * once per reload, and {@link VersionsCache}, the versions table held in memory so the gate
 * never queries the database per request. Loaded once, reloaded every
 * `VERSION_REFRESH_INTERVAL` by a timer that `start()` and `stop()` control (nothing runs at
 * import time), and updated at once after an admin change through this instance. Other
 * instances see a change within one refresh interval.
 *
 * @module
 */
import { type GateSnapshot, isUsable, type VersionPolicy } from "@/middleware/version-gate.ts";
import type { Clock } from "@/runtime/clock.ts";
import { getAppLogger } from "@/runtime/logger.ts";

/** A client version: one row of the versions table, as the API shows it. */
export interface ClientVersion {
  id: number;
  version: string;
  supported: boolean;
  deprecated: boolean;
  /** When it was deprecated (ISO 8601 UTC); null while not deprecated. */
  deprecated_at: string | null;
  /** When it stops working (ISO 8601 UTC); null when no date is announced. */
  sunset_at: string | null;
}

export type { VersionPolicy };

/** One consistent view of the versions table. */
export interface VersionsSnapshot extends GateSnapshot {
  /** Every row, oldest first (what `GET /versions` lists). */
  readonly versions: readonly ClientVersion[];
  /** Gate policy by exact version string. */
  readonly policies: ReadonlyMap<string, VersionPolicy>;
  /** The highest version clients may use (non-deprecated preferred); null when none. */
  readonly latest: string | null;
  /** Every version clients may use, highest first. */
  readonly usable: readonly string[];
}

/**
 * Order version strings: dot-separated parts compare numerically when both are numbers, and a
 * pre-release (`1.2-beta`) sorts before its release (`1.2`).
 *
 * @example
 * ```ts
 * import { compareVersions } from "@/modules/versions/client-versions.ts";
 *
 * ["1.10", "1.9", "1.10-rc1"].sort(compareVersions); // ["1.9", "1.10-rc1", "1.10"]
 * ```
 */
export function compareVersions(a: string, b: string): number {
  const [mainA = "", preA] = splitPreRelease(a);
  const [mainB = "", preB] = splitPreRelease(b);
  const byMain = compareParts(mainA.split("."), mainB.split("."));
  if (byMain !== 0) return byMain;
  if (preA === undefined || preB === undefined) {
    return preA === preB ? 0 : preA === undefined ? 1 : -1;
  }
  return compareParts(preA.split("."), preB.split("."));
}

function splitPreRelease(version: string): [string, string | undefined] {
  const dash = version.search(/[-+]/);
  return dash < 0 ? [version, undefined] : [version.slice(0, dash), version.slice(dash + 1)];
}

function compareParts(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const numeric = /^\d+$/.test(x) && /^\d+$/.test(y);
    const order = numeric ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (order !== 0) return Math.sign(order);
  }
  return 0;
}

function toPolicy(record: ClientVersion): VersionPolicy {
  const sunsetMs = record.sunset_at === null ? undefined : Date.parse(record.sunset_at);
  // A row deprecated by hand (SQL) has no date: RFC 9745 needs one, so say "since the epoch".
  const deprecatedMs = record.deprecated_at === null ? 0 : Date.parse(record.deprecated_at);
  return {
    version: record.version,
    supported: record.supported,
    deprecation: record.deprecated ? `@${Math.floor(deprecatedMs / 1000)}` : undefined,
    sunset: sunsetMs === undefined ? undefined : new Date(sunsetMs).toUTCString(),
    sunsetMs,
  };
}

/** Build the snapshot the gate reads from the rows of the versions table. */
export function buildSnapshot(records: readonly ClientVersion[], now: Date): VersionsSnapshot {
  const policies = new Map<string, VersionPolicy>();
  for (const record of records) policies.set(record.version, toPolicy(record));
  const nowMs = now.getTime();
  const usable = records
    .filter((record) => isUsable(policies.get(record.version)!, nowMs))
    .sort((a, b) => compareVersions(b.version, a.version));
  const latest = usable.find((record) => !record.deprecated) ?? usable[0];
  return {
    versions: records,
    policies,
    latest: latest?.version ?? null,
    usable: usable.map((record) => record.version),
  };
}

/** Options of {@link VersionsCache}. */
export interface VersionsCacheOptions {
  /** Reads every row of the versions table, oldest first. */
  load: () => Promise<ClientVersion[]>;
  /** How often the running cache reloads the table. */
  refreshMs: number;
  clock: Clock;
}

/**
 * The in-memory versions table.
 *
 * @example
 * ```ts
 * import { VersionsCache } from "@/modules/versions/client-versions.ts";
 * import { systemClock } from "@/runtime/clock.ts";
 *
 * const rows = [
 *   { id: 1, version: "1.0", supported: true, deprecated: false, deprecated_at: null, sunset_at: null },
 * ];
 * const versions = new VersionsCache({
 *   load: () => Promise.resolve(rows),
 *   refreshMs: 5_000,
 *   clock: systemClock,
 * });
 * await versions.start(); // loads, then reloads every 5 s
 * versions.snapshot?.policies.get("1.0");
 * await versions.stop();
 * ```
 */
export class VersionsCache {
  readonly #load: () => Promise<ClientVersion[]>;
  readonly #refreshMs: number;
  readonly #clock: Clock;
  readonly #log = getAppLogger("versions");
  #snapshot: VersionsSnapshot | undefined;
  #firstLoad: Promise<VersionsSnapshot> | undefined;
  /** Reloads started and the newest one applied: an older, slower reload never wins. */
  #started = 0;
  #applied = 0;
  #running = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #tick: Promise<void> | undefined;
  #failing = false;

  constructor(options: VersionsCacheOptions) {
    this.#load = options.load;
    this.#refreshMs = options.refreshMs;
    this.#clock = options.clock;
  }

  /** The current snapshot, or undefined before the first load. Costs nothing. */
  get snapshot(): VersionsSnapshot | undefined {
    return this.#snapshot;
  }

  /** The current snapshot, loading the table first if it never was (once, shared). */
  load(): Promise<VersionsSnapshot> {
    if (this.#snapshot) return Promise.resolve(this.#snapshot);
    this.#firstLoad ??= this.refresh().finally(() => (this.#firstLoad = undefined));
    return this.#firstLoad;
  }

  /** Reload the table now. Resolves with the newest snapshot; rejects if the read fails. */
  async refresh(): Promise<VersionsSnapshot> {
    const sequence = ++this.#started;
    const records = await this.#load();
    if (sequence > this.#applied) {
      this.#applied = sequence;
      this.#snapshot = buildSnapshot(records, this.#clock.now());
    }
    return this.#snapshot!;
  }

  /**
   * Put a row this instance just wrote into the snapshot, so the change takes effect here at
   * once without another query. A reload that started earlier can no longer overwrite it.
   */
  apply(record: ClientVersion): void {
    // Never loaded: the first load reads the row from the table.
    if (!this.#snapshot) return;
    const current = this.#snapshot.versions;
    const found = current.some((row) => row.id === record.id);
    const records = found
      ? current.map((row) => (row.id === record.id ? record : row))
      : [...current, record];
    this.#applied = ++this.#started;
    this.#snapshot = buildSnapshot(records, this.#clock.now());
  }

  /** Load the table (failing if it cannot be read) and reload it every `refreshMs`. */
  async start(): Promise<void> {
    if (this.#running) return;
    await this.refresh();
    this.#running = true;
    this.#schedule();
  }

  /** Stop reloading; waits for a reload in progress. The snapshot stays usable. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#tick;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#tick = this.#reloadInBackground().finally(() => {
        this.#tick = undefined;
        if (this.#running) this.#schedule();
      });
    }, this.#refreshMs);
  }

  async #reloadInBackground(): Promise<void> {
    try {
      await this.refresh();
      if (this.#failing) this.#log.info("Reloading the versions table works again");
      this.#failing = false;
    } catch (error) {
      // Keep enforcing the last table read; say so once per outage, not every interval.
      if (!this.#failing) {
        this.#log.warning("Cannot reload the versions table; keeping the last one: {error}", {
          error,
        });
      }
      this.#failing = true;
    }
  }
}
