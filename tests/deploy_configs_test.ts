/**
 * The deployment files, checked without Docker: compose.yaml (Debian's docker-compose and a
 * structural check), .env.example, the Dockerfile, the Kubernetes manifests, the nginx template's
 * limits, and the Grafana provisioning and dashboard against a running service's /metrics.
 */
import denoJson from "../deno.json" with { type: "json" };
import { type Config, parseConfig } from "@/config.ts";
import { parseDuration } from "@/runtime/duration.ts";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import {
  composeVariables,
  dashboardQueries,
  exposedMetricNames,
  findTool,
  findYamlPython,
  interpolate,
  parseEnvFile,
  parseYamlDocuments,
  parseYamlFile,
  promqlMetricNames,
  repoPath,
  reportSkip,
  run,
  startBackground,
  waitFor,
} from "./helpers/deploy.ts";
import { freePort } from "./helpers/process.ts";
import { taskWords } from "./helpers/tasks.ts";

const COMPOSE = findTool("docker-compose", ["/usr/bin/docker-compose"]);
const YAML = await findYamlPython();
if (!COMPOSE) {
  reportSkip(
    "docker-compose config -q",
    "docker-compose not found (apt-get install docker-compose)",
  );
}
if (!YAML) {
  reportSkip(
    "deploy_configs_test YAML checks",
    "no python3 with PyYAML (apt-get install python3-yaml)",
  );
}

const read = (path: string) => Deno.readTextFile(repoPath(path));

/** Secrets compose.yaml requires (`${VAR:?...}`), with values valid for every consumer. */
const SECRETS: Record<string, string> = {
  MYSQL_ROOT_PASSWORD: "rootpw0123456789",
  MYSQL_USER: "items",
  MYSQL_PASSWORD: "apppw0123456789",
  REDIS_PASSWORD: "redispw0123456789",
  SECRET_KEY: "9f2c71e04ab83d56c1e7a09b4f3d28e6517c",
  MONITORING_USER: "ops",
  MONITORING_PASSWORD: "monitoring-password",
  GRAFANA_ADMIN_PASSWORD: "grafana-password",
};

interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  stop_grace_period?: string;
  read_only?: boolean;
  tmpfs?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

async function composeWith(env: Record<string, string>): Promise<ComposeFile> {
  const [doc] = await parseYamlDocuments(interpolate(await read("compose.yaml"), env));
  return doc as ComposeFile;
}

/** Environment values as the app sees them (compose lets numbers and booleans through). */
function stringEnv(env: Record<string, unknown> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? "" : String(v)]));
}

Deno.test({
  name:
    "docker-compose config -q accepts compose.yaml with every secret set, and refuses each missing one",
  ignore: !COMPOSE,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "items-api-compose-" });
    try {
      const envFile = `${dir}/test.env`;
      const write = (vars: Record<string, string>) =>
        Deno.writeTextFile(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(""));
      // Only PATH: nothing from this machine's environment may satisfy a variable.
      const compose = () =>
        run(COMPOSE!, ["--env-file", envFile, "-f", repoPath("compose.yaml"), "config", "-q"], {
          clearEnv: true,
          env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
          cwd: dir,
        });
      await write(SECRETS);
      const ok = await compose();
      assertEquals(ok.code, 0, ok.stderr);

      for (const name of Object.keys(SECRETS)) {
        await write({ ...SECRETS, [name]: "" });
        const refused = await compose();
        assert(refused.code !== 0, `compose started without ${name}`);
        assertStringIncludes(refused.stderr, `set ${name} in .env`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "compose.yaml: only nginx publishes a port, migrations run once before the api, no root DB user",
  ignore: !YAML,
  fn: async () => {
    const compose = await composeWith(SECRETS);
    const services = compose.services;
    assertEquals(
      Object.keys(services).sort(),
      ["api", "grafana", "migrate", "mysql", "nginx", "prometheus", "redis"],
    );
    for (const [name, service] of Object.entries(services)) {
      if (name === "nginx") assertEquals(service.ports, ["8080:8080"]);
      else assertEquals(service.ports, undefined, `${name} publishes a port`);
    }

    const api = services.api!;
    const migrate = services.migrate!;
    assertEquals(api.command, ["serve"]);
    assertEquals(migrate.command, ["migrate"]);
    assertEquals(migrate.image, api.image, "migrate runs the api image");
    assert(
      api.build !== undefined && migrate.build !== undefined,
      "both build from the Dockerfile",
    );
    assertEquals(api.depends_on?.migrate?.condition, "service_completed_successfully");
    assertEquals(api.depends_on?.mysql?.condition, "service_healthy");
    assertEquals(api.depends_on?.redis?.condition, "service_healthy");
    assertEquals(migrate.depends_on?.mysql?.condition, "service_healthy");
    assertEquals(services.nginx!.depends_on?.api?.condition, "service_healthy");
    assertEquals(api.read_only, true);
    assertEquals(api.tmpfs, ["/tmp"]);

    // The api's environment is a valid production configuration.
    const apiEnv = stringEnv(api.environment);
    const config: Config = parseConfig(apiEnv);
    assertEquals(config.env, "production");
    assertEquals(
      config.http.trustProxy.enabled,
      true,
      "behind nginx the app must trust X-Forwarded-For",
    );
    assertEquals(config.http.port, 8080);
    assertEquals(config.http.metricsPort, 8000);
    assertEquals(config.redisUrl, `redis://:${SECRETS.REDIS_PASSWORD}@redis:6379`);
    assertEquals(parseConfig(stringEnv(migrate.environment)).database.url, config.database.url);

    // The app connects as MYSQL_USER, never as root.
    const dbUrl = new URL(config.database.url);
    assertEquals(dbUrl.username, SECRETS.MYSQL_USER);
    assertEquals(dbUrl.hostname, "mysql");
    const mysql = services.mysql!;
    assertEquals(mysql.image, "mysql:8.4");
    const mysqlEnv = stringEnv(mysql.environment);
    assertEquals(mysqlEnv.MYSQL_USER, SECRETS.MYSQL_USER);
    assert(mysqlEnv.MYSQL_USER !== "root");
    assertEquals(mysqlEnv.MYSQL_PASSWORD, SECRETS.MYSQL_PASSWORD);
    assertEquals(`/${mysqlEnv.MYSQL_DATABASE}`, dbUrl.pathname);
    assertStringIncludes(mysql.healthcheck!.test.join(" "), "mysqladmin ping");
    assert(mysql.volumes?.includes("mysql-data:/var/lib/mysql"), "mysql data in a named volume");
    assert(compose.volumes && "mysql-data" in compose.volumes);
    assert(services.redis!.healthcheck, "redis has a healthcheck");
    // Rate-limit counters survive a Redis restart: an empty Redis is a fresh window for all.
    assertStringIncludes(services.redis!.command!.join(" "), "--appendonly yes");
    assert(services.redis!.volumes?.includes("redis-data:/data"), "redis data in a named volume");
    assert(compose.volumes && "redis-data" in compose.volumes);

    // Docker's SIGKILL comes after the app's drain.
    const grace = parseDuration(api.stop_grace_period!);
    assert(grace > config.http.shutdownTimeoutMs, `stop_grace_period ${grace} ms <= drain`);

    // nginx and the app agree on the body limit.
    assertEquals(
      Number(stringEnv(services.nginx!.environment).BODY_LIMIT_BYTES),
      config.http.bodyLimitBytes,
    );
  },
});

Deno.test({
  name:
    ".env.example documents every compose variable, leaves every secret empty, and .env is ignored",
  fn: async () => {
    const used = composeVariables(await read("compose.yaml"));
    const example = parseEnvFile(await read(".env.example"));
    assertEquals([...example.keys()].sort(), [...used].sort());
    const required = new Set(
      Array.from((await read("compose.yaml")).matchAll(/\$\{([A-Z_]+):\?/g), (m) => m[1]!),
    );
    assertEquals([...required].sort(), Object.keys(SECRETS).sort());
    for (const name of required) {
      if (/PASSWORD|SECRET/.test(name)) {
        assertEquals(example.get(name), "", `${name} has a default`);
      }
    }
    const ignored = (await read(".gitignore")).split("\n").map((line) => line.trim());
    assert(ignored.includes(".env"), ".env is not in .gitignore");
    // No password-like value is written into compose.yaml itself.
    for (const line of (await read("compose.yaml")).split("\n")) {
      const match = /^\s*([A-Z_]*(?:PASSWORD|SECRET)[A-Z_]*):\s*(.+)$/.exec(line);
      if (match) assert(match[2]!.startsWith("${"), `literal secret in compose.yaml: ${line}`);
    }
  },
});

interface DockerInstruction {
  keyword: string;
  args: string;
}

function parseDockerfile(text: string): DockerInstruction[][] {
  const joined = text.replace(/\\\n/g, " ");
  const stages: DockerInstruction[][] = [];
  for (const raw of joined.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [keyword, ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword!.toUpperCase(), args: rest.join(" ") };
    if (instruction.keyword === "FROM") stages.push([]);
    assert(stages.length > 0, `instruction before FROM: ${line}`);
    stages.at(-1)!.push(instruction);
  }
  return stages;
}

Deno.test("Dockerfile: pinned multi-stage build, non-root distroless runtime with a healthcheck", async () => {
  const stages = parseDockerfile(await read("Dockerfile"));
  assertEquals(stages.length, 2);
  const [build, runtime] = stages as [DockerInstruction[], DockerInstruction[]];

  const denoVersion = Deno.version.deno;
  assertEquals(build[0]!.args, `denoland/deno:${denoVersion} AS build`);
  assertStringIncludes(await read(".ci/run"), `DENO_VERSION=${denoVersion}`);
  const runs = build.filter((i) => i.keyword === "RUN").map((i) => i.args);
  const install = runs.findIndex((r) => r.includes("deno install --frozen"));
  const compile = runs.findIndex((r) => r.includes("deno task compile"));
  assert(install !== -1 && compile > install, "deno install --frozen must run before the compile");
  assert("compile" in denoJson.tasks, "deno.json has no compile task");
  const copied = build.filter((i) => i.keyword === "COPY").map((i) => i.args.split(" ")[0]);
  for (const path of ["deno.json", "src/", "static/", "migrations/", "scripts/"]) {
    assert(copied.includes(path), `the build stage does not copy ${path}`);
  }

  const from = runtime[0]!.args;
  assert(
    /^gcr\.io\/distroless\/cc-debian12(:|@)/.test(from) || /^debian:[\w.-]*slim/.test(from),
    `runtime base ${from} is not a glibc slim/distroless image`,
  );
  const users = runtime.filter((i) => i.keyword === "USER").map((i) => i.args);
  assert(users.length > 0, "the runtime stage sets no USER");
  const user = users.at(-1)!.split(":")[0]!;
  assert(!["root", "0"].includes(user), `runtime runs as ${user}`);
  assert(from.includes(":nonroot") || /^\d+$/.test(user), "user must be non-root by uid");

  const healthcheck = runtime.find((i) => i.keyword === "HEALTHCHECK");
  assert(healthcheck, "no HEALTHCHECK");
  assertStringIncludes(healthcheck.args, 'CMD ["/app/items-api", "healthcheck"]');
  const exposed = runtime.filter((i) => i.keyword === "EXPOSE").flatMap((i) => i.args.split(/\s+/));
  assertEquals(exposed.sort(), ["8000", "8080"]);
  const entrypoint = runtime.find((i) => i.keyword === "ENTRYPOINT");
  assertEquals(JSON.parse(entrypoint!.args), ["/app/items-api"]);

  // Only the binary (and an empty data folder) come from the build stage; no source, no deno.
  const runtimeCopies = runtime.filter((i) => i.keyword === "COPY").map((i) => i.args);
  assertEquals(runtimeCopies.length, 2);
  const compileScript = await read("scripts/compile.ts");
  assertStringIncludes(compileScript, 'DEFAULT_OUTPUT = "dist/items-api"');
  assertEquals(runtimeCopies[0], "--from=build /src/dist/items-api /app/items-api");
  assert(runtimeCopies[1]!.startsWith("--from=build --chown=65532:65532"), runtimeCopies[1]);

  // The image's environment is a valid production configuration once secrets are added.
  const env = Object.fromEntries(
    runtime.filter((i) => i.keyword === "ENV").flatMap((i) =>
      Array.from(i.args.matchAll(/(\w+)=(\S+)/g), (m) => [m[1]!, m[2]!])
    ),
  );
  assertEquals(env.APP_ENV, "production");
  const config = parseConfig({
    ...env,
    DATABASE_URL: "mysql://u:p@db:3306/items",
    SECRET_KEY: SECRETS.SECRET_KEY!,
  });
  assertEquals([config.http.port, config.http.metricsPort], [8080, 8000]);

  const ignore = (await read(".dockerignore")).split("\n").map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  assertEquals(ignore[0], "*", ".dockerignore should allow-list what the build needs");
  for (
    const needed of ["!deno.json", "!deno.lock", "!src/", "!static/", "!migrations/", "!scripts/"]
  ) {
    assert(ignore.includes(needed), `.dockerignore drops ${needed.slice(1)}`);
  }
});

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name?: string;
    generateName?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // deno-lint-ignore no-explicit-any
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

async function k8s(file: string): Promise<K8sObject> {
  return await parseYamlFile<K8sObject>(`deploy/k8s/${file}`);
}

Deno.test({
  name: "Kubernetes manifests: probes, non-root read-only pods, drain longer than SHUTDOWN_TIMEOUT",
  ignore: !YAML,
  fn: async () => {
    const files = [...Deno.readDirSync(repoPath("deploy/k8s"))].map((e) => e.name).sort();
    assertEquals(files, [
      "configmap.yaml",
      "deployment.yaml",
      "hpa.yaml",
      "ingress.yaml",
      "kustomization.yaml",
      "migrate-job.yaml",
      "pdb.yaml",
      "secret.example.yaml",
      "service.yaml",
    ]);
    const configMap = await k8s("configmap.yaml");
    const secret = await k8s("secret.example.yaml");
    const deployment = await k8s("deployment.yaml");
    const service = await k8s("service.yaml");
    const hpa = await k8s("hpa.yaml");
    const pdb = await k8s("pdb.yaml");
    const job = await k8s("migrate-job.yaml");
    const kustomization = await k8s("kustomization.yaml");

    assertEquals([configMap.kind, secret.kind], ["ConfigMap", "Secret"]);
    // ConfigMap + Secret make a valid production configuration.
    const config = parseConfig({ ...configMap.data, ...secret.stringData });
    assertEquals(config.env, "production");
    assertEquals(config.http.trustProxy.enabled, true);

    assertEquals([deployment.apiVersion, deployment.kind], ["apps/v1", "Deployment"]);
    const pod = deployment.spec.template.spec;
    const podLabels = deployment.spec.template.metadata.labels;
    assertEquals(deployment.spec.selector.matchLabels, podLabels);
    assertEquals(pod.securityContext.runAsNonRoot, true);
    assert(pod.securityContext.runAsUser > 0);
    const [container] = pod.containers;
    assertEquals(container.securityContext.readOnlyRootFilesystem, true);
    assertEquals(container.securityContext.allowPrivilegeEscalation, false);
    assertEquals(container.securityContext.capabilities.drop, ["ALL"]);
    const tmp = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/tmp");
    assert(tmp, "no writable /tmp");
    assert(
      pod.volumes.find((v: { name: string; emptyDir?: unknown }) => v.name === tmp.name).emptyDir,
    );
    assertEquals(container.livenessProbe.httpGet.path, "/livez");
    assertEquals(container.readinessProbe.httpGet.path, "/readyz");
    assert(container.startupProbe?.httpGet, "no startupProbe");
    assert(container.resources.requests.cpu && container.resources.requests.memory);
    assert(container.resources.limits.memory, "no memory limit");
    const ports = Object.fromEntries(
      container.ports.map((
        p: { name: string; containerPort: number },
      ) => [p.name, p.containerPort]),
    );
    assertEquals(ports, { http: config.http.port, metrics: config.http.metricsPort });
    assertEquals(
      container.envFrom.map((e: Record<string, { name: string }>) => Object.values(e)[0]!.name),
      [configMap.metadata.name, secret.metadata.name],
    );
    const preStopMs = container.lifecycle.preStop.sleep.seconds * 1000;
    assert(preStopMs > 0, "no preStop sleep");
    assert(
      pod.terminationGracePeriodSeconds * 1000 > preStopMs + config.http.shutdownTimeoutMs,
      "terminationGracePeriodSeconds must exceed preStop + SHUTDOWN_TIMEOUT",
    );

    assertEquals(service.kind, "Service");
    for (const [key, value] of Object.entries(service.spec.selector)) {
      assertEquals(podLabels[key], value, `service selector ${key}`);
    }
    for (const port of service.spec.ports) assert(port.targetPort in ports, port.targetPort);

    assertEquals([hpa.apiVersion, hpa.kind], ["autoscaling/v2", "HorizontalPodAutoscaler"]);
    assertEquals(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);

    assertEquals([pdb.apiVersion, pdb.kind], ["policy/v1", "PodDisruptionBudget"]);
    for (const [key, value] of Object.entries(pdb.spec.selector.matchLabels)) {
      assertEquals(podLabels[key], value, `PDB selector ${key}`);
    }
    assert(pdb.spec.minAvailable < hpa.spec.minReplicas, "the PDB would block every eviction");

    assertEquals([job.apiVersion, job.kind], ["batch/v1", "Job"]);
    const jobPod = job.spec.template.spec;
    assertEquals(jobPod.restartPolicy, "Never");
    assertEquals(jobPod.containers[0].args, ["migrate"]);
    assertEquals(jobPod.containers[0].image, container.image);
    assertEquals(jobPod.securityContext.runAsNonRoot, true);
    assertEquals(jobPod.containers[0].securityContext.readOnlyRootFilesystem, true);

    const { resources } = kustomization as unknown as { resources: string[] };
    assertEquals(resources.sort(), [
      "configmap.yaml",
      "deployment.yaml",
      "hpa.yaml",
      "ingress.yaml",
      "pdb.yaml",
      "service.yaml",
    ]);
    assert(!resources.includes("secret.example.yaml"), "the example Secret must not be applied");

    // The edge bounds what Deno.serve does not: connections per address, body, timeouts.
    const ingress = await k8s("ingress.yaml");
    assertEquals([ingress.apiVersion, ingress.kind], ["networking.k8s.io/v1", "Ingress"]);
    const annotations = ingress.metadata.annotations ?? {};
    assert(Number(annotations["nginx.ingress.kubernetes.io/limit-connections"]) > 0);
    assertEquals(annotations["nginx.ingress.kubernetes.io/proxy-body-size"], "1m");
    assert(
      Number(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) * 1000 >
        config.http.requestTimeoutMs,
      "the proxy must wait longer than REQUEST_TIMEOUT",
    );
    assertEquals(ingress.spec.rules[0].http.paths[0].backend.service.name, service.metadata.name);
    // The app trusts X-Forwarded-For from the pod network (the ingress controller) only.
    assertEquals(config.http.trustProxy.ranges, ["10.0.0.0/8"]);
  },
});

Deno.test({
  name: "nginx, Prometheus and Grafana settings agree with the app and compose.yaml",
  ignore: !YAML,
  fn: async () => {
    const defaults = parseConfig({});
    const render = await read("nginx/render.sh");
    const template = await read("nginx/nginx.conf.template");
    assertStringIncludes(template, "client_max_body_size ${BODY_LIMIT_BYTES};");
    assertStringIncludes(render, `: "\${BODY_LIMIT_BYTES:=${defaults.http.bodyLimitBytes}}"`);
    const proxyTimeout = /: "\$\{PROXY_TIMEOUT:=(\d+s)\}"/.exec(render)?.[1];
    assert(proxyTimeout, "render.sh has no PROXY_TIMEOUT default");
    assert(
      parseDuration(proxyTimeout) > defaults.http.requestTimeoutMs,
      "nginx must wait longer than the app's REQUEST_TIMEOUT",
    );
    for (
      const directive of [
        "proxy_read_timeout ${PROXY_TIMEOUT};",
        "limit_req_status 429;",
        "server_tokens off;",
        "gzip on;",
        "include proxy-headers.conf;",
      ]
    ) {
      assertStringIncludes(template, directive);
    }
    const proxyHeaders = await read("nginx/proxy-headers.conf");
    assertStringIncludes(proxyHeaders, "X-Forwarded-For $proxy_add_x_forwarded_for;");
    assertStringIncludes(proxyHeaders, "X-Request-Id $items_request_id;");

    const compose = await composeWith(SECRETS);
    const prometheus = await parseYamlFile<{
      scrape_configs: Array<
        {
          job_name: string;
          metrics_path?: string;
          dns_sd_configs?: Array<{ names: string[]; port: number }>;
        }
      >;
    }>("monitoring/prometheus.yml");
    const items = prometheus.scrape_configs.find((c) => c.job_name === "items-api")!;
    assertEquals(items.dns_sd_configs?.[0]?.names, ["api"]);
    assertEquals(
      items.dns_sd_configs?.[0]?.port,
      parseConfig(stringEnv(compose.services.api!.environment)).http.metricsPort,
    );
    const self = prometheus.scrape_configs.find((c) => c.job_name === "prometheus")!;
    const routePrefix = compose.services.prometheus!.command!
      .find((f) => f.startsWith("--web.route-prefix="))!.split("=")[1]!;
    assertEquals(self.metrics_path, `${routePrefix.replace(/\/$/, "")}/metrics`);
    assert(
      compose.services.prometheus!.volumes!.includes(
        "./monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
      ),
    );

    const datasources = await parseYamlFile<
      { datasources: Array<{ uid: string; type: string; url: string }> }
    >(
      "monitoring/grafana/provisioning/datasources/prometheus.yaml",
    );
    const [datasource] = datasources.datasources;
    assertEquals(datasource!.type, "prometheus");
    assertEquals(new URL(datasource!.url).pathname, routePrefix.replace(/\/$/, ""));
    const providers = await parseYamlFile<{ providers: Array<{ options: { path: string } }> }>(
      "monitoring/grafana/provisioning/dashboards/items-api.yaml",
    );
    const dashboardsPath = providers.providers[0]!.options.path;
    const grafana = compose.services.grafana!;
    assert(
      grafana.volumes!.includes(`./monitoring/grafana/dashboards:${dashboardsPath}:ro`),
      `grafana does not mount the dashboards at ${dashboardsPath}`,
    );
    assertEquals(stringEnv(grafana.environment).GF_SERVER_SERVE_FROM_SUB_PATH, "true");
    assertStringIncludes(stringEnv(grafana.environment).GF_SERVER_ROOT_URL ?? "", "/grafana/");

    const dashboard = JSON.parse(await read("monitoring/grafana/dashboards/items-api.json"));
    const ids = dashboard.panels as Array<
      { id: number; datasource?: { uid: string }; type: string }
    >;
    assertEquals(new Set(ids.map((p) => p.id)).size, ids.length, "panel ids must be unique");
    for (const panel of ids.filter((p) => p.type !== "row")) {
      assertEquals(panel.datasource?.uid, datasource!.uid, "panel datasource");
    }
  },
});

/** Names Prometheus itself adds to every scrape; not in the service's exposition. */
const PROMETHEUS_SERIES = new Set(["up"]);

/** Every metric name a dashboard's queries use that `exposed` lacks, with its panel. */
function missingMetrics(dashboard: { panels?: unknown[] }, exposed: Set<string>): string[] {
  const missing: string[] = [];
  for (const { panel, expr } of dashboardQueries(dashboard)) {
    const names = promqlMetricNames(expr);
    assert(names.size > 0, `"${panel}" reads no metric: ${expr}`);
    for (const name of names) {
      if (!exposed.has(name) && !PROMETHEUS_SERIES.has(name)) missing.push(`${panel}: ${name}`);
    }
  }
  return missing;
}

Deno.test("every Grafana panel query names metrics a running service exports on /metrics", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "items-api-metrics-" });
  const port = freePort();
  const metricsPort = freePort();
  // The permissions users run with: the words after "deno" (env assignments may precede it).
  const words = await taskWords(denoJson.tasks.start);
  const task = words.slice(words.indexOf("deno") + 1);
  const service = startBackground(Deno.execPath(), task, {
    cwd: repoPath(""),
    env: {
      APP_ENV: "test",
      DATABASE_URL: `sqlite:${dir}/metrics.db`,
      SECRET_KEY: SECRETS.SECRET_KEY!,
      ADMIN_PASSWORD: "metrics-admin-password",
      HOST: "127.0.0.1",
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      LOG_FORMAT: "json",
    },
  });
  try {
    const exposition = await waitFor("the metrics listener", async () => {
      if (service.exited()) throw new Error(`the service exited:\n${service.output()}`);
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return res.ok ? await res.text() : (await res.body?.cancel(), undefined);
    }, 30_000);
    const exposed = exposedMetricNames(exposition);
    const dashboard = JSON.parse(await read("monitoring/grafana/dashboards/items-api.json"));

    await t.step("the dashboard reads only exported metrics", () => {
      assertEquals(missingMetrics(dashboard, exposed), []);
    });

    await t.step("a misspelled metric would be caught", () => {
      const broken = {
        panels: [{
          title: "typo",
          type: "timeseries",
          targets: [{ expr: 'sum(rate(http_request_total{job="$job"}[$__rate_interval]))' }],
        }],
      };
      assertEquals(missingMetrics(broken, exposed), ["typo: http_request_total"]);
    });

    await t.step("the panels cover what operators need", () => {
      const used = new Set(
        dashboardQueries(dashboard).flatMap((q) => [...promqlMetricNames(q.expr)]),
      );
      for (
        const name of [
          "http_requests_total",
          "http_request_duration_seconds_bucket",
          "http_requests_in_flight",
          "auth_logins_total",
          "auth_refresh_token_reuse_total",
          "rate_limited_requests_total",
          "rate_limit_store_errors_total",
          "version_gate_rejections_total",
          "db_pool_connections_in_use",
          "token_purge_runs_total",
        ]
      ) {
        assert(used.has(name), `no panel shows ${name}`);
      }
      const exprs = dashboardQueries(dashboard).map((q) => q.expr).join("\n");
      for (const quantile of ["0.5", "0.9", "0.99"]) {
        assertStringIncludes(exprs, `histogram_quantile(${quantile},`);
      }
      assertStringIncludes(exprs, "sum by (route)");
    });
  } finally {
    await service.stop("SIGTERM", 15_000);
    await Deno.remove(dir, { recursive: true });
  }
});
