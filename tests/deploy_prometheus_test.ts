/**
 * The project's Prometheus configuration, checked by promtool and run by Debian's Prometheus
 * (with compose.yaml's command-line flags) against two app instances' metrics listeners; every
 * Grafana panel query is then evaluated by that Prometheus.
 */
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { MYSQL_SERVER_URL } from "./helpers/databases.ts";
import {
  type BackgroundProcess,
  dashboardQueries,
  findTool,
  findYamlPython,
  grafanaToPromql,
  interpolate,
  parseYamlDocuments,
  parseYamlFile,
  repoPath,
  reportSkip,
  run,
  startBackground,
  waitFor,
} from "./helpers/deploy.ts";
import { freePort } from "./helpers/process.ts";
import { serveMetrics } from "@/runtime/metrics-server.ts";

const PROMETHEUS = findTool("prometheus", ["/usr/bin/prometheus"]);
const PROMTOOL = findTool("promtool", ["/usr/bin/promtool"]);
const YAML = await findYamlPython();
const missing = [
  !PROMETHEUS && "prometheus",
  !PROMTOOL && "promtool",
  !YAML && "python3 with PyYAML",
].filter(Boolean);
if (missing.length > 0) {
  reportSkip(
    "deploy_prometheus_test",
    `${missing.join(", ")} not found (apt-get install prometheus python3-yaml)`,
  );
}

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  static_configs?: Array<{ targets: string[] }>;
  dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
  [key: string]: unknown;
}
interface PrometheusConfig {
  global?: Record<string, unknown>;
  scrape_configs: ScrapeConfig[];
}
interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
  lastError: string;
}

async function promtoolCheck(path: string): Promise<void> {
  const result = await run(PROMTOOL!, ["check", "config", path]);
  assertEquals(result.code, 0, `${result.stdout}\n${result.stderr}`);
}

/** compose.yaml's prometheus command, with local paths and addresses. */
async function composePrometheusFlags(
  configPath: string,
  dataDir: string,
  port: number,
): Promise<string[]> {
  const [compose] = await parseYamlDocuments(
    interpolate(await Deno.readTextFile(repoPath("compose.yaml")), {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      // Required secrets of other services; irrelevant to prometheus' own flags.
      ...Object.fromEntries(
        [
          "MYSQL_ROOT_PASSWORD",
          "MYSQL_USER",
          "MYSQL_PASSWORD",
          "REDIS_PASSWORD",
          "SECRET_KEY",
          "MONITORING_USER",
          "MONITORING_PASSWORD",
          "GRAFANA_ADMIN_PASSWORD",
        ].map((name) => [name, "x"]),
      ),
    }),
  ) as Array<{ services: Record<string, { command: string[] }> }>;
  const flags = compose!.services.prometheus!.command.map((flag) => {
    if (flag.startsWith("--config.file=")) return `--config.file=${configPath}`;
    if (flag.startsWith("--storage.tsdb.path=")) return `--storage.tsdb.path=${dataDir}`;
    return flag;
  });
  assert(flags.includes("--web.route-prefix=/prometheus/"), flags.join(" "));
  return [...flags, `--web.listen-address=127.0.0.1:${port}`];
}

Deno.test({
  name: "promtool accepts monitoring/prometheus.yml",
  ignore: missing.length > 0,
  fn: async () => {
    await promtoolCheck(repoPath("monitoring/prometheus.yml"));
  },
});

Deno.test({
  name: "Prometheus scrapes both app instances and itself, and evaluates every dashboard query",
  ignore: missing.length > 0,
  fn: async (t) => {
    const dialect = MYSQL_SERVER_URL ? "mysql" : "sqlite";
    const first = await createTestApp(dialect, { file: true });
    const second = await createTestApp(dialect, { database: first.database });
    const instances: TestApp[] = [first, second];
    const metricsServers = instances.map((instance) =>
      serveMetrics(instance.deps.metrics, { hostname: "127.0.0.1", port: 0, onListen: () => {} })
    );
    const apiServers = instances.map((instance) =>
      Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        (request, info) => instance.app.fetch(request, info),
      )
    );
    const dir = await Deno.makeTempDir({ prefix: "items-api-prometheus-" });
    const port = freePort();
    const api = `http://127.0.0.1:${port}/prometheus/api/v1`;
    let prometheus: BackgroundProcess | undefined;
    try {
      // The project's file with its discovery swapped for the local addresses: compose's
      // `api` DNS name -> the two metrics listeners, localhost:9090 -> this Prometheus.
      const config = await parseYamlFile<PrometheusConfig>("monitoring/prometheus.yml");
      const self = config.scrape_configs.find((c) => c.job_name === "prometheus");
      const items = config.scrape_configs.find((c) => c.job_name === "items-api");
      assert(self && items, "prometheus.yml lacks the prometheus or items-api job");
      assertEquals(items.dns_sd_configs?.[0]?.names, ["api"]);
      self.static_configs = [{ targets: [`127.0.0.1:${port}`] }];
      delete items.dns_sd_configs;
      items.static_configs = [{
        targets: metricsServers.map((s) => `127.0.0.1:${s.addr.port}`),
      }];
      // Scrape every second so the test need not wait 15 s per round.
      config.global = { ...config.global, scrape_interval: "1s", evaluation_interval: "1s" };
      const configPath = `${dir}/prometheus.yml`;
      await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2)); // JSON is YAML
      await promtoolCheck(configPath);

      prometheus = startBackground(
        PROMETHEUS!,
        await composePrometheusFlags(configPath, `${dir}/data`, port),
      );

      await t.step("both instances and Prometheus itself report up within a minute", async () => {
        const targets = await waitFor(
          "three healthy targets",
          async () => {
            if (prometheus!.exited()) {
              throw new Error(`prometheus exited:\n${prometheus!.output()}`);
            }
            const res = await fetch(`${api}/targets?state=active`);
            const body = await res.json() as { data: { activeTargets: Target[] } };
            const active = body.data.activeTargets;
            return active.length === 3 && active.every((target) => target.health === "up")
              ? active
              : undefined;
          },
          60_000,
          250,
        );
        const scraped = targets.filter((target) => target.labels.job === "items-api")
          .map((target) => target.scrapeUrl).sort();
        assertEquals(
          scraped,
          metricsServers.map((s) => `http://127.0.0.1:${s.addr.port}/metrics`).sort(),
        );
      });

      await t.step("request counters of the instances arrive in Prometheus", async () => {
        for (const [i, server] of apiServers.entries()) {
          for (let n = 0; n < 3 + i; n++) {
            const res = await fetch(`http://127.0.0.1:${server.addr.port}/livez`);
            await res.body?.cancel();
          }
        }
        const query = 'sum by (instance) (http_requests_total{job="items-api", route="/livez"})';
        const series = await waitFor(
          "the /livez counters of both instances",
          async () => {
            const res = await fetch(`${api}/query?query=${encodeURIComponent(query)}`);
            const body = await res.json() as {
              data: { result: Array<{ metric: { instance: string }; value: [number, string] }> };
            };
            const counts = body.data.result.map((r) => Number(r.value[1])).sort();
            return counts.length === 2 && counts[0] === 3 && counts[1] === 4 ? counts : undefined;
          },
          30_000,
          250,
        );
        assertEquals(series, [3, 4]);
      });

      await t.step("every Grafana panel query is valid PromQL for this Prometheus", async () => {
        const dashboard = JSON.parse(
          await Deno.readTextFile(repoPath("monitoring/grafana/dashboards/items-api.json")),
        );
        const queries = dashboardQueries(dashboard);
        assert(queries.length >= 10, `only ${queries.length} queries`);
        for (const { panel, expr } of queries) {
          const promql = grafanaToPromql(expr);
          const res = await fetch(`${api}/query?query=${encodeURIComponent(promql)}`);
          const body = await res.json() as { status: string; error?: string };
          assertEquals(body.status, "success", `${panel}: ${promql}: ${body.error}`);
        }
        const up = await fetch(
          `${api}/query?query=${encodeURIComponent(grafanaToPromql(queries[0]!.expr))}`,
        );
        const upBody = await up.json() as { data: { result: Array<{ value: [number, string] }> } };
        assertEquals(upBody.data.result[0]?.value[1], "2", `"${queries[0]!.panel}" should count 2`);
      });
    } finally {
      await prometheus?.stop("SIGTERM");
      for (const server of [...apiServers, ...metricsServers]) await server.shutdown();
      await second.close();
      await first.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
