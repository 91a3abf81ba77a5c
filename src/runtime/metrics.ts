/**
 * Prometheus metrics of one service instance: a prom-client {@link Registry} created by
 * {@link createMetrics} (nothing is registered or started at import time), the HTTP, database,
 * auth, rate-limit, version-gate and token-purge series, and process metrics that are correct
 * on Deno. Served by {@link ./metrics-server.ts} on its own port, never on the API port.
 *
 * prom-client's `collectDefaultMetrics` is not used: on Deno 2.9 its event-loop lag histogram
 * (`monitorEventLoopDelay`) does not see a blocked loop, its GC histogram never receives an
 * observation, `nodejs_active_handles` is always 0 and `nodejs_version_info` reports the Node
 * compatibility version. The process metrics below are read from `Deno.memoryUsage()`,
 * `process.cpuUsage()` and `/proc`.
 *
 * @module
 */
import process from "node:process";
import { Counter, Gauge, Histogram, type Metric, Registry } from "prom-client";

/** Connections of a database pool, as the pool gauges report them (`Database.stats()`). */
export interface PoolStats {
  inUse: number;
  idle: number;
  waiting: number;
}

/** Upper bounds (seconds) of the request-duration histogram: 5 ms up to the 30 s timeout. */
export const HTTP_DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** Upper bounds (seconds) of the event-loop delay histogram. */
export const EVENT_LOOP_DELAY_BUCKETS: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** How often the event-loop monitor samples the delay of a timer. */
const EVENT_LOOP_SAMPLE_MS = 100;

/** Methods that get their own label value; anything else is counted as `OTHER`. */
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Outcome of a login or refresh attempt. */
export type AuthOutcome = "success" | "failure";

const SESSION_REVOCATION_REASONS = [
  "logout",
  "revoked",
  "logout_others",
  "password_change",
  "deactivated",
  "reuse_detected",
  "evicted",
] as const;

/** Why sessions were ended before their expiry. */
export type SessionRevocationReason = typeof SESSION_REVOCATION_REASONS[number];

const RATE_LIMIT_SCOPES = [
  "api",
  "api_key",
  "login",
  "login_address",
  "docs",
  "auth_failure",
  "rename",
] as const;

/** Which limit rejected a request. */
export type RateLimitScope = typeof RATE_LIMIT_SCOPES[number];

const TOKEN_PURGE_OUTCOMES = ["completed", "skipped", "failed"] as const;

/** Outcome of one token purge run (`skipped`: another instance held the lock). */
export type TokenPurgeOutcome = typeof TOKEN_PURGE_OUTCOMES[number];

const AUTH_METHODS = ["session", "oidc", "api_key", "unknown"] as const;

/** How a bearer token was checked (`unknown`: no authenticator accepts its shape). */
export type AuthMethodLabel = typeof AUTH_METHODS[number];

const AUTHENTICATION_OUTCOMES = [
  "success",
  "invalid",
  "insufficient_scope",
  "wrong_method",
  "unavailable",
] as const;

/** Result of one bearer authentication. */
export type AuthenticationOutcome = typeof AUTHENTICATION_OUTCOMES[number];

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Service version, exported as a label of `items_api_build_info`. */
  version: string;
  /** Pool occupancy read at scrape time (the database's `stats()`). */
  poolStats?: () => PoolStats;
  /**
   * Where password hashes run (`native` or `webcrypto`), chosen once at startup: exported as
   * `password_hash_backend_info{backend}` = 1.
   */
  passwordHashBackend?: string;
  /** Keys with their own `api_key_requests_total` series (default {@link API_KEY_SERIES_MAX}). */
  apiKeySeriesMax?: number;
}

/**
 * API keys with their own `api_key_requests_total{key_id}` series on one instance: the first
 * ones counted since start (a revoked key frees its place); every further key counts under
 * `key_id="other"`, so the series stay bounded however many keys exist.
 */
export const API_KEY_SERIES_MAX = 100;

/** Every metric of the service, over one registry. */
export interface Metrics {
  readonly registry: Registry;
  /** `Content-Type` of {@link Metrics.render}'s output. */
  readonly contentType: string;
  readonly authLogins: Counter<"outcome">;
  readonly authRefreshes: Counter<"outcome">;
  readonly authRefreshReuse: Counter;
  readonly authSessionsRevoked: Counter<"reason">;
  /** Audit events written, by action (`user.demoted`, `api_key.created`, ...). */
  readonly auditEvents: Counter<"action">;
  /**
   * Count one bearer authentication (`auth_authentications_total{method, outcome}`); the
   * label children are resolved once, so the per-request cost is one increment.
   */
  countAuthentication(method: AuthMethodLabel, outcome: AuthenticationOutcome): void;
  readonly rateLimited: Counter<"scope">;
  /**
   * Count a request authenticated by API key `keyId` (`api_key_requests_total{key_id}`, the id,
   * never the key): its own series for the first {@link API_KEY_SERIES_MAX} keys counted since
   * start, `key_id="other"` for the rest.
   */
  countApiKeyRequest(keyId: number): void;
  /** Drop a revoked key's series (on this instance), freeing its place for another key. */
  forgetApiKey(keyId: number): void;
  readonly rateLimitStoreErrors: Counter<"store">;
  readonly versionGateRejections: Counter;
  readonly tokenPurgeRuns: Counter<"outcome">;
  readonly tokenPurgeDeletedSessions: Counter;
  readonly tokenPurgeLastSuccess: Gauge;
  /** Count a request whose response is not ready yet (`http_requests_in_flight`). */
  requestStarted(): void;
  /** Undo {@link Metrics.requestStarted} once the response is ready (or the request failed). */
  requestEnded(): void;
  /** Count one answered request; `route` is the matched pattern (bounded cardinality). */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Record a finished purge run (deleted rows are counted per batch as they go). */
  recordTokenPurge(outcome: TokenPurgeOutcome, finishedAt: Date): void;
  /** Start sampling event-loop delay (a 100 ms unref'd timer); returns the stop function. */
  startEventLoopMonitor(): () => void;
  /** The exposition text of every metric. */
  render(): Promise<string>;
}

/** A label value for `method` that cannot grow without bound. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "OTHER";
}

/** Counts and durations of one (method, route, status) series. */
interface RequestSeries {
  readonly labels: Readonly<Record<"method" | "route" | "status", string>>;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly buckets: Float64Array;
}

/**
 * `http_requests_total` and `http_request_duration_seconds` without per-request string
 * building: series live in nested maps (route, method, status) and become prom-client metric
 * values only at scrape time. A measured fast path (bench/README.md); the plain equivalent is
 * prom-client's `Counter` and `Histogram` with `inc`/`observe` per request.
 */
class RequestObserver {
  inFlight = 0;
  #byRoute = new Map<string, Map<string, Map<number, RequestSeries>>>();
  #all: RequestSeries[] = [];

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.#byRoute.get(route);
    if (!byMethod) this.#byRoute.set(route, byMethod = new Map());
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, byStatus = new Map());
    let series = byStatus.get(status);
    if (!series) {
      series = {
        labels: { method, route, status: String(status) },
        count: 0,
        sum: 0,
        buckets: new Float64Array(HTTP_DURATION_BUCKETS.length + 1),
      };
      byStatus.set(status, series);
      this.#all.push(series);
    }
    series.count++;
    series.sum += seconds;
    let bucket = 0;
    while (bucket < HTTP_DURATION_BUCKETS.length && seconds > HTTP_DURATION_BUCKETS[bucket]!) {
      bucket++;
    }
    series.buckets[bucket]!++;
  }

  reset(): void {
    this.#byRoute.clear();
    this.#all = [];
  }

  /** The two metrics as objects prom-client's registry can render. */
  promMetrics(): Metric[] {
    const base = (name: string, help: string, type: "counter" | "histogram") => ({
      name,
      help,
      type,
      aggregator: "sum" as const,
      collect() {},
      reset: () => this.reset(),
    });
    const requests = {
      ...base(
        "http_requests_total",
        "HTTP requests answered, by method, matched route pattern and status",
        "counter",
      ),
      get: () =>
        Promise.resolve({
          ...requests,
          values: this.#all.map((s) => ({ labels: s.labels, value: s.count })),
        }),
    };
    const durationName = "http_request_duration_seconds";
    const duration = {
      ...base(
        durationName,
        "Time from receiving a request to its response being ready, in seconds",
        "histogram",
      ),
      get: () => {
        const values: Array<{ metricName: string; labels: object; value: number }> = [];
        for (const s of this.#all) {
          let cumulative = 0;
          for (let i = 0; i <= HTTP_DURATION_BUCKETS.length; i++) {
            cumulative += s.buckets[i]!;
            const le = i < HTTP_DURATION_BUCKETS.length ? HTTP_DURATION_BUCKETS[i]! : "+Inf";
            values.push({
              metricName: `${durationName}_bucket`,
              labels: { ...s.labels, le },
              value: cumulative,
            });
          }
          values.push({ metricName: `${durationName}_sum`, labels: s.labels, value: s.sum });
          values.push({ metricName: `${durationName}_count`, labels: s.labels, value: s.count });
        }
        return Promise.resolve({ ...duration, values });
      },
    };
    // prom-client accepts any object with this shape; its types only name its own classes.
    return [requests, duration] as unknown as Metric[];
  }
}

/** Whether `/proc/self` may be read without prompting (Linux, with read permission). */
function procReadable(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    if (Deno.permissions.querySync({ name: "read", path: "/proc/self" }).state !== "granted") {
      return false;
    }
    // Deno 2.9 lets only --allow-all read /proc/self/*, whatever --allow-read grants: the
    // binary and `deno task start` (explicit permissions) must start without these gauges.
    Deno.readTextFileSync("/proc/self/limits");
    return true;
  } catch {
    return false;
  }
}

function maxOpenFiles(): number | undefined {
  const limits = Deno.readTextFileSync("/proc/self/limits");
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  if (!match || match[1] === "unlimited") return undefined;
  return Number(match[1]);
}

function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  const cpu = (name: string, help: string, read: (u: NodeJS.CpuUsage) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        // Counters cannot be set; reset and add the absolute value read from the OS.
        this.reset();
        this.inc(read(process.cpuUsage()) / 1e6);
      },
    });
  cpu("process_cpu_user_seconds_total", "User CPU time spent, in seconds", (u) => u.user);
  cpu("process_cpu_system_seconds_total", "System CPU time spent, in seconds", (u) => u.system);
  cpu(
    "process_cpu_seconds_total",
    "User and system CPU time spent, in seconds",
    (u) => u.user + u.system,
  );

  const startTime = Math.round(performance.timeOrigin / 1000);
  new Gauge({
    name: "process_start_time_seconds",
    aggregator: "min",
    help: "Start time of the process since the Unix epoch, in seconds",
    registers,
    collect() {
      this.set(startTime);
    },
  });
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size, in bytes",
    registers,
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  new Gauge({
    name: "deno_heap_size_total_bytes",
    help: "V8 heap size reserved, in bytes",
    registers,
    collect() {
      this.set(Deno.memoryUsage().heapTotal);
    },
  });
  new Gauge({
    name: "deno_heap_size_used_bytes",
    help: "V8 heap size in use, in bytes",
    registers,
    collect() {
      this.set(Deno.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: "deno_external_memory_bytes",
    help: "Memory of objects outside the V8 heap bound to JavaScript objects, in bytes",
    registers,
    collect() {
      this.set(Deno.memoryUsage().external);
    },
  });

  if (!procReadable()) return;
  new Gauge({
    name: "process_open_fds",
    help: "Number of open file descriptors",
    registers,
    collect() {
      let count = 0;
      for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
      // The directory handle used for counting is one of them.
      this.set(count - 1);
    },
  });
  const maxFds = maxOpenFiles();
  if (maxFds !== undefined) {
    new Gauge({
      name: "process_max_fds",
      aggregator: "min",
      help: "Maximum number of open file descriptors",
      registers,
      collect() {
        this.set(maxFds);
      },
    });
  }
}

/**
 * Create the metrics of one app instance over a fresh registry.
 *
 * @example
 * ```ts
 * import { openDatabase } from "@/db/open.ts";
 *
 * const db = await openDatabase({
 *   url: "sqlite::memory:",
 *   poolSize: 1,
 *   queueLimit: 0,
 *   queryTimeoutMs: 5000,
 *   listQueryTimeoutMs: 5000,
 * });
 * const metrics = createMetrics({ version: "1.0.0", poolStats: () => db.stats() });
 * metrics.observeRequest("GET", "/livez", 200, 0.002);
 * console.log(await metrics.render());
 * await db.close();
 * ```
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];

  const http = new RequestObserver();
  for (const metric of http.promMetrics()) registry.registerMetric(metric);
  new Gauge({
    name: "http_requests_in_flight",
    help: "HTTP requests being served right now",
    registers,
    collect() {
      this.set(http.inFlight);
    },
  });

  const poolStats = options.poolStats;
  if (poolStats) {
    const poolGauge = (name: string, help: string, read: (s: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(poolStats()));
        },
      });
    poolGauge("db_pool_connections_in_use", "Database connections checked out", (s) => s.inUse);
    poolGauge("db_pool_connections_idle", "Database connections open and idle", (s) => s.idle);
    poolGauge(
      "db_pool_waiting_requests",
      "Callers waiting for a database connection",
      (s) => s.waiting,
    );
  }

  const authLogins = new Counter({
    name: "auth_logins_total",
    help: "Password logins (POST /auth/token), by outcome",
    labelNames: ["outcome"] as const,
    registers,
  });
  const authRefreshes = new Counter({
    name: "auth_token_refreshes_total",
    help: "Refresh-token exchanges (POST /auth/refresh, refresh grant on /auth/token), by outcome",
    labelNames: ["outcome"] as const,
    registers,
  });
  const authRefreshReuse = new Counter({
    name: "auth_refresh_token_reuse_total",
    help: "Already-rotated refresh tokens presented again (the session was revoked)",
    registers,
  });
  const authSessionsRevoked = new Counter({
    name: "auth_sessions_revoked_total",
    help: "Sessions ended before their expiry, by reason",
    labelNames: ["reason"] as const,
    registers,
  });
  const auditEvents = new Counter({
    name: "audit_events_total",
    help: "Audit events written, by action",
    labelNames: ["action"] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: "rate_limited_requests_total",
    help: "Requests answered 429 by a rate limit, by scope",
    labelNames: ["scope"] as const,
    registers,
  });
  const apiKeyRequests = new Counter({
    name: "api_key_requests_total",
    help: `Requests authenticated by an API key, by key id (the first ${API_KEY_SERIES_MAX} ` +
      'keys counted; the rest as key_id="other")',
    labelNames: ["key_id"] as const,
    registers,
  });
  const apiKeySeriesMax = options.apiKeySeriesMax ?? API_KEY_SERIES_MAX;
  const apiKeySeries = new Map<number, ReturnType<typeof apiKeyRequests.labels>>();
  let otherApiKeys: ReturnType<typeof apiKeyRequests.labels> | undefined;
  const rateLimitStoreErrors = new Counter({
    name: "rate_limit_store_errors_total",
    help: "Rate-limit store failures (the in-process fallback counted the request)",
    labelNames: ["store"] as const,
    registers,
  });
  const versionGateRejections = new Counter({
    name: "version_gate_rejections_total",
    help: "Requests answered 426 because their X-Version is unknown or unsupported",
    registers,
  });
  const tokenPurgeRuns = new Counter({
    name: "token_purge_runs_total",
    help: "Runs of the expired-session purge, by outcome (skipped: another instance held the lock)",
    labelNames: ["outcome"] as const,
    registers,
  });
  const tokenPurgeDeletedSessions = new Counter({
    name: "token_purge_deleted_sessions_total",
    help: "Sessions deleted by the expired-session purge",
    registers,
  });
  const tokenPurgeLastSuccess = new Gauge({
    name: "token_purge_last_success_timestamp_seconds",
    aggregator: "max",
    help: "When this instance last completed an expired-session purge, since the Unix epoch",
    registers,
  });

  const authentications = new Counter({
    name: "auth_authentications_total",
    help: "Bearer authentications of API requests, by method (session, oidc, api_key) and outcome",
    labelNames: ["method", "outcome"] as const,
    registers,
  });
  const authenticationChildren = new Map<string, { inc(): void }>();
  for (const method of AUTH_METHODS) {
    for (const outcome of AUTHENTICATION_OUTCOMES) {
      const child = authentications.labels({ method, outcome });
      child.inc(0);
      authenticationChildren.set(`${method} ${outcome}`, child);
    }
  }

  // Known label values start at 0, so rate() and alerts work before the first event.
  for (const outcome of ["success", "failure"] as const) {
    authLogins.inc({ outcome }, 0);
    authRefreshes.inc({ outcome }, 0);
  }
  for (const outcome of TOKEN_PURGE_OUTCOMES) tokenPurgeRuns.inc({ outcome }, 0);
  for (const scope of RATE_LIMIT_SCOPES) rateLimited.inc({ scope }, 0);
  for (const reason of SESSION_REVOCATION_REASONS) authSessionsRevoked.inc({ reason }, 0);
  rateLimitStoreErrors.inc({ store: "redis" }, 0);

  new Gauge({
    name: "items_api_build_info",
    aggregator: "first",
    help: "Version of the service and of the runtime; always 1",
    labelNames: ["version", "deno_version", "v8_version"] as const,
    registers,
  }).set(
    { version: options.version, deno_version: Deno.version.deno, v8_version: Deno.version.v8 },
    1,
  );

  if (options.passwordHashBackend !== undefined) {
    new Gauge({
      name: "password_hash_backend_info",
      aggregator: "first",
      help: "Where Argon2id password hashes run (native binding or Web Crypto); always 1",
      labelNames: ["backend"] as const,
      registers,
    }).set({ backend: options.passwordHashBackend }, 1);
  }

  registerProcessMetrics(registry);

  const eventLoopDelay = new Histogram({
    name: "deno_event_loop_delay_seconds",
    help: `How late a ${EVENT_LOOP_SAMPLE_MS} ms timer fired (event-loop blocking), in seconds`,
    buckets: [...EVENT_LOOP_DELAY_BUCKETS],
    registers,
  });

  return {
    registry,
    contentType: registry.contentType,
    authLogins,
    authRefreshes,
    authRefreshReuse,
    authSessionsRevoked,
    auditEvents,
    countAuthentication: (method, outcome) =>
      authenticationChildren.get(`${method} ${outcome}`)?.inc(),
    rateLimited,
    countApiKeyRequest(keyId) {
      let series = apiKeySeries.get(keyId);
      if (series === undefined) {
        if (apiKeySeries.size >= apiKeySeriesMax) {
          (otherApiKeys ??= apiKeyRequests.labels({ key_id: "other" })).inc();
          return;
        }
        series = apiKeyRequests.labels({ key_id: String(keyId) });
        apiKeySeries.set(keyId, series);
      }
      series.inc();
    },
    forgetApiKey(keyId) {
      if (apiKeySeries.delete(keyId)) apiKeyRequests.remove({ key_id: String(keyId) });
    },
    rateLimitStoreErrors,
    versionGateRejections,
    tokenPurgeRuns,
    tokenPurgeDeletedSessions,
    tokenPurgeLastSuccess,
    requestStarted() {
      http.inFlight++;
    },
    requestEnded() {
      http.inFlight--;
    },
    observeRequest(method, route, status, seconds) {
      http.observe(methodLabel(method), route, status, seconds);
    },
    recordTokenPurge(outcome, finishedAt) {
      tokenPurgeRuns.inc({ outcome });
      if (outcome === "completed") tokenPurgeLastSuccess.set(finishedAt.getTime() / 1000);
    },
    startEventLoopMonitor() {
      let expected = performance.now() + EVENT_LOOP_SAMPLE_MS;
      const timer = setInterval(() => {
        const now = performance.now();
        eventLoopDelay.observe(Math.max(0, now - expected) / 1000);
        expected = now + EVENT_LOOP_SAMPLE_MS;
      }, EVENT_LOOP_SAMPLE_MS);
      Deno.unrefTimer(timer);
      return () => clearInterval(timer);
    },
    render: () => registry.metrics(),
  };
}
