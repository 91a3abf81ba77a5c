/**
 * The project's nginx configuration, rendered by nginx/render.sh for local addresses, run by
 * Debian's nginx in front of two app instances that share one database (MariaDB when
 * TEST_MYSQL_URL is set, else one SQLite file).
 */
import { MYSQL_SERVER_URL } from "./helpers/databases.ts";
import { createTestApp, TEST_ADMIN, type TestApp } from "./helpers/app.ts";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import {
  type BackgroundProcess,
  findTool,
  rawHttp,
  repoPath,
  reportSkip,
  run,
  startBackground,
  waitFor,
} from "./helpers/deploy.ts";
import { freePort } from "./helpers/process.ts";

const NGINX = findTool("nginx", ["/usr/sbin/nginx"]);
const OPENSSL = findTool("openssl");
const ENVSUBST = findTool("envsubst");
const missing = [!NGINX && "nginx", !OPENSSL && "openssl", !ENVSUBST && "envsubst (gettext-base)"]
  .filter(Boolean);
if (missing.length > 0) {
  reportSkip("deploy_nginx_test", `${missing.join(", ")} not found (apt-get install nginx)`);
}

const MONITORING = { user: "ops", password: "monitoring-password-for-tests" };
const LOGIN_BURST = 3;

/** Render nginx/ into `dir` with render.sh; returns the path of nginx.conf. */
async function render(dir: string, env: Record<string, string>): Promise<string> {
  const result = await run("sh", [repoPath("nginx/render.sh")], {
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      NGINX_RUN_DIR: dir,
      MONITORING_USER: MONITORING.user,
      MONITORING_PASSWORD: MONITORING.password,
      ...env,
    },
  });
  if (result.code !== 0) throw new Error(`render.sh failed:\n${result.stderr}`);
  return `${dir}/nginx.conf`;
}

async function nginxTest(dir: string): Promise<{ code: number; stderr: string }> {
  return await run(NGINX!, ["-t", "-e", "stderr", "-p", `${dir}/`, "-c", `${dir}/nginx.conf`]);
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  // nginx's workers run as an unprivileged user when the tests run as root: they must reach
  // the htpasswd file in here.
  await Deno.chmod(dir, 0o755);
  return dir;
}

/** What an upstream saw of one request. */
interface Seen {
  method: string;
  path: string;
  headers: Headers;
}

function serveInstance(app: TestApp, seen: Seen[]) {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => {
      const url = new URL(request.url);
      seen.push({ method: request.method, path: url.pathname, headers: request.headers });
      return app.app.fetch(request, info);
    },
  );
}

/** A stand-in for Prometheus or Grafana: answers 200 and records what reached it. */
function serveStub(name: string, seen: Seen[]) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    seen.push({ method: request.method, path: url.pathname, headers: request.headers });
    return new Response(`${name} stub`, { headers: { "Content-Type": "text/plain" } });
  });
}

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${btoa(`${user}:${password}`)}` };
}

async function expectNginxProblem(res: Response, status: number): Promise<Record<string, unknown>> {
  const text = await res.text();
  assertEquals(res.status, status, text);
  assertEquals(res.headers.get("content-type"), "application/problem+json");
  const body = JSON.parse(text) as Record<string, unknown>;
  assertEquals(body.status, status);
  for (const key of ["type", "title", "detail", "code", "request_id"]) {
    assert(typeof body[key] === "string" && body[key] !== "", `problem lacks ${key}: ${text}`);
  }
  return body;
}

/** Each security header exactly once (fetch joins repeated headers with ", "). */
function assertSecurityHeaders(res: Response): void {
  assertEquals(res.headers.get("x-content-type-options"), "nosniff");
  assertEquals(res.headers.get("x-frame-options"), "DENY");
  assertEquals(res.headers.get("referrer-policy"), "no-referrer");
  assertEquals(
    res.headers.get("strict-transport-security"),
    "max-age=31536000; includeSubDomains",
  );
  assertEquals(res.headers.get("server"), "nginx", "server_tokens off hides the version");
}

Deno.test({
  name: "nginx.conf renders for compose's addresses and passes nginx -t",
  ignore: missing.length > 0,
  fn: async () => {
    const dir = await tempDir("items-api-nginx-compose-");
    try {
      const conf = await Deno.readTextFile(await render(dir, {}));
      assertStringIncludes(conf, "set $api_upstream api:8080;");
      assertStringIncludes(conf, "resolver 127.0.0.11 valid=10s");
      assertStringIncludes(conf, "client_max_body_size 1048576;");
      assert(!/\$\{[A-Z_]+\}/.test(conf), "a ${VAR} placeholder was left unrendered");
      const result = await nginxTest(dir);
      assertEquals(result.code, 0, result.stderr);
      assertStringIncludes(result.stderr, "syntax is ok");
      const htpasswd = await Deno.readTextFile(`${dir}/htpasswd`);
      assert(htpasswd.startsWith(`${MONITORING.user}:$6$`), "htpasswd holds a SHA-512 crypt hash");
      assert(!htpasswd.includes(MONITORING.password), "htpasswd must not hold the password");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "render.sh refuses a missing or short monitoring password and unsafe values",
  ignore: missing.length > 0,
  fn: async () => {
    const dir = await tempDir("items-api-nginx-bad-");
    try {
      const cases: Array<[Record<string, string>, string]> = [
        [{ MONITORING_PASSWORD: "" }, "MONITORING_PASSWORD must be set"],
        [{ MONITORING_PASSWORD: "short" }, "at least 12 characters"],
        [{ MONITORING_USER: "a:b" }, "MONITORING_USER must be"],
        [{ API_UPSTREAM: "api:8080; evil" }, "API_UPSTREAM must be host:port"],
        [{ LOGIN_RATE: "10r/m; allow all" }, "LOGIN_RATE must look like"],
        [{ REAL_IP_FROM: "10.0.0.0/8; allow all" }, "REAL_IP_FROM must list"],
        [{ CLIENT_HEADER_TIMEOUT: "10s; x" }, "CLIENT_HEADER_TIMEOUT must look like"],
        [{ CONNECTIONS_PER_ADDRESS: "0" }, "CONNECTIONS_PER_ADDRESS must be"],
      ];
      for (const [env, message] of cases) {
        const result = await run("sh", [repoPath("nginx/render.sh")], {
          clearEnv: true,
          env: {
            PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
            NGINX_RUN_DIR: dir,
            MONITORING_USER: MONITORING.user,
            MONITORING_PASSWORD: MONITORING.password,
            ...env,
          },
        });
        assertEquals(result.code, 1, `${JSON.stringify(env)} was accepted`);
        assertStringIncludes(result.stderr, message);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "nginx in front of two app instances on one database proxies, limits and protects",
  ignore: missing.length > 0,
  fn: async (t) => {
    const dialect = MYSQL_SERVER_URL ? "mysql" : "sqlite";
    // The app's own login limit is raised so every 429 below can only come from nginx.
    const env = {
      TRUST_PROXY: "true",
      RATE_LIMIT_LOGIN_MAX: "10000",
      RATE_LIMIT_LOGIN_IP_MAX: "10000",
    };
    const first = await createTestApp(dialect, { file: true, env });
    const second = await createTestApp(dialect, { database: first.database, env });
    const seen: [Seen[], Seen[]] = [[], []];
    const stubSeen: { prometheus: Seen[]; grafana: Seen[] } = { prometheus: [], grafana: [] };
    const servers = [serveInstance(first, seen[0]), serveInstance(second, seen[1])];
    const prometheus = serveStub("prometheus", stubSeen.prometheus);
    const grafana = serveStub("grafana", stubSeen.grafana);
    const dir = await tempDir("items-api-nginx-");
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    let nginx: BackgroundProcess | undefined;
    const stopped = new Set<number>();
    try {
      await render(dir, {
        LISTEN_PORT: String(port),
        API_UPSTREAM: "items_api_local",
        PROMETHEUS_UPSTREAM: "prometheus_local",
        GRAFANA_UPSTREAM: "grafana_local",
        RESOLVER: "127.0.0.1",
        LOGIN_RATE: "1r/m",
        LOGIN_BURST: String(LOGIN_BURST),
      });
      // The tests' upstreams, through the config's conf.d/ extension point: the named groups
      // replace compose's DNS names (api:8080 and friends).
      await Deno.writeTextFile(
        `${dir}/conf.d/local-upstreams.conf`,
        [
          `upstream items_api_local {`,
          ...servers.map((s) => `    server 127.0.0.1:${s.addr.port};`),
          `}`,
          `upstream prometheus_local { server 127.0.0.1:${prometheus.addr.port}; }`,
          `upstream grafana_local { server 127.0.0.1:${grafana.addr.port}; }`,
          "",
        ].join("\n"),
      );
      const check = await nginxTest(dir);
      assertEquals(check.code, 0, check.stderr);

      nginx = startBackground(NGINX!, [
        "-g",
        "daemon off;",
        "-e",
        "stderr",
        "-p",
        `${dir}/`,
        "-c",
        `${dir}/nginx.conf`,
      ]);
      await waitFor("nginx to answer", async () => {
        if (nginx!.exited()) throw new Error(`nginx exited:\n${nginx!.output()}`);
        const res = await fetch(`${base}/livez`);
        await res.body?.cancel();
        return res.ok ? true : undefined;
      }, 10_000);

      let token = "";
      await t.step("requests through nginx succeed and reach both instances", async () => {
        const before = [seen[0].length, seen[1].length];
        for (let i = 0; i < 6; i++) {
          const res = await fetch(`${base}/readyz`);
          assertEquals(res.status, 200, await res.text());
        }
        assert(seen[0].length > before[0]!, "instance 1 got no request");
        assert(seen[1].length > before[1]!, "instance 2 got no request");

        const login = await fetch(`${base}/auth/token`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ username: TEST_ADMIN.username, password: TEST_ADMIN.password }),
        });
        const tokens = await login.json();
        assertEquals(login.status, 200, JSON.stringify(tokens));
        token = tokens.access_token;

        // Created through one instance, read through both: they share the database.
        const created = await fetch(`${base}/items`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
          body: JSON.stringify({ name: `through-nginx-${crypto.randomUUID()}` }),
        });
        const item = await created.json();
        assertEquals(created.status, 201, JSON.stringify(item));
        const reads = [seen[0].length, seen[1].length];
        for (let i = 0; i < 4; i++) {
          const res = await fetch(`${base}/items/${item.id}`, {
            headers: { Authorization: `Bearer ${token}` },
          });
          assertEquals(res.status, 200, await res.text());
        }
        assert(seen[0].length - reads[0]! >= 1 && seen[1].length - reads[1]! >= 1);
      });

      await t.step(
        "X-Forwarded-For, X-Forwarded-Proto and X-Request-Id reach the app",
        async () => {
          const res = await fetch(`${base}/livez`, {
            headers: { "X-Forwarded-For": "203.0.113.7", "X-Request-Id": "req-from-client.1" },
          });
          await res.body?.cancel();
          assertEquals(res.headers.get("x-request-id"), "req-from-client.1");
          const last = [...seen[0], ...seen[1]].find((s) =>
            s.headers.get("x-request-id") === "req-from-client.1"
          );
          assert(last, "the request id did not reach an instance");
          // nginx appends the peer it saw; the app (TRUST_PROXY) takes that last entry.
          assertEquals(last.headers.get("x-forwarded-for"), "203.0.113.7, 127.0.0.1");
          assertEquals(last.headers.get("x-forwarded-proto"), "http");

          // No id, or one the app would not accept: nginx generates one, shared with the app.
          const variants: Array<Record<string, string>> = [{}, { "X-Request-Id": "bad id" }];
          for (const header of variants) {
            const generated = await fetch(`${base}/livez`, { headers: header });
            await generated.body?.cancel();
            const id = generated.headers.get("x-request-id") ?? "";
            assert(/^[0-9a-f]{32}$/.test(id), `expected nginx's $request_id, got "${id}"`);
            assert(
              [...seen[0], ...seen[1]].some((s) => s.headers.get("x-request-id") === id),
              "the app did not receive nginx's request id",
            );
          }
        },
      );

      await t.step("security headers appear once, and the version is hidden", async () => {
        const res = await fetch(`${base}/livez`);
        await res.body?.cancel();
        assertSecurityHeaders(res);
      });

      await t.step("/metrics is never served through nginx", async () => {
        const before = seen[0].length + seen[1].length;
        for (const path of ["/metrics", "/metrics/", "//metrics", "/%6Detrics", "/metrics?x=1"]) {
          const res = await fetch(`${base}${path}`);
          const body = await expectNginxProblem(res, 404);
          assertEquals(body.code, "not_found", path);
          assertSecurityHeaders(res);
        }
        assertEquals(seen[0].length + seen[1].length, before, "a /metrics request reached the app");
      });

      await t.step(
        "an oversized body gets 413 from nginx; one within the limit passes",
        async () => {
          const before = seen[0].length + seen[1].length;
          const big = JSON.stringify({ name: "x", description: "y".repeat(2 * 1024 * 1024) });
          const res = await fetch(`${base}/items`, {
            method: "POST",
            headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
            body: big,
          });
          const problem = await expectNginxProblem(res, 413);
          assertEquals(problem.code, "content_too_large");
          assertSecurityHeaders(res);
          assertEquals(
            seen[0].length + seen[1].length,
            before,
            "the oversized body reached the app",
          );

          const fits = JSON.stringify({ name: "x", description: "y".repeat(1_000_000) });
          const passed = await fetch(`${base}/items`, {
            method: "POST",
            headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
            body: fits,
          });
          await passed.body?.cancel();
          assert(passed.status !== 413 && passed.status < 500, `got ${passed.status}`);
          assertEquals(
            seen[0].length + seen[1].length,
            before + 1,
            "the body did not reach the app",
          );
        },
      );

      await t.step("gzip compresses JSON responses", async () => {
        const res = await rawHttp(
          port,
          "GET /openapi.json HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        );
        assertEquals(res.status, 200);
        const headers = new Map(res.headers);
        assertEquals(headers.get("content-encoding"), "gzip");
        assertStringIncludes(headers.get("vary") ?? "", "Accept-Encoding");
      });

      await t.step("/prometheus/ and /grafana/ need the monitoring credentials", async () => {
        for (const path of ["/prometheus/api/v1/targets", "/grafana/api/health"]) {
          const anonymous = await fetch(`${base}${path}`);
          await anonymous.body?.cancel();
          assertEquals(anonymous.status, 401, path);
          assertStringIncludes(anonymous.headers.get("www-authenticate") ?? "", "Basic");
          const wrong = await fetch(`${base}${path}`, {
            headers: basic(MONITORING.user, "not-the-password"),
          });
          await wrong.body?.cancel();
          assertEquals(wrong.status, 401, path);
        }
        assertEquals(stubSeen.prometheus.length + stubSeen.grafana.length, 0);

        const auth = basic(MONITORING.user, MONITORING.password);
        const prom = await fetch(`${base}/prometheus/api/v1/targets`, { headers: auth });
        assertEquals(await prom.text(), "prometheus stub");
        assertEquals(stubSeen.prometheus.at(-1)?.path, "/prometheus/api/v1/targets");

        const graf = await fetch(`${base}/grafana/api/health`, { headers: auth });
        assertEquals(await graf.text(), "grafana stub");
        assertEquals(stubSeen.grafana.at(-1)?.path, "/grafana/api/health");
        // Grafana keeps its own login: nginx's Basic credentials are not passed on.
        assertEquals(stubSeen.grafana.at(-1)?.headers.get("authorization"), null);

        const bare = await fetch(`${base}/grafana`, { redirect: "manual" });
        await bare.body?.cancel();
        assertEquals(bare.status, 301);
        assertStringIncludes(bare.headers.get("location") ?? "", "/grafana/");
      });

      await t.step("a login flood gets 429 problem+json from nginx", async () => {
        const before = seen[0].length + seen[1].length;
        const statuses: number[] = [];
        for (let i = 0; i < LOGIN_BURST + 5; i++) {
          const res = await fetch(`${base}/auth/token`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ username: TEST_ADMIN.username, password: TEST_ADMIN.password }),
          });
          if (res.status === 429) {
            const problem = await expectNginxProblem(res, 429);
            assertEquals(problem.code, "rate_limited");
            assertEquals(res.headers.get("retry-after"), "60");
            assertSecurityHeaders(res);
          } else {
            await res.body?.cancel();
          }
          statuses.push(res.status);
        }
        const limited = statuses.filter((s) => s === 429).length;
        assert(limited >= 1, `no 429 in ${statuses.join(", ")}`);
        // Every request nginx let through got the app's answer (200); none of the 429s did.
        assertEquals(seen[0].length + seen[1].length - before, statuses.length - limited);
        assert(statuses.every((s) => s === 200 || s === 429), statuses.join(", "));
      });

      await t.step("with one instance down nginx routes around it; with none, 503", async () => {
        await servers[1]!.shutdown();
        stopped.add(1);
        for (let i = 0; i < 4; i++) {
          const res = await fetch(`${base}/livez`);
          assertEquals(res.status, 200, await res.text());
        }
        await servers[0]!.shutdown();
        stopped.add(0);
        const res = await fetch(`${base}/livez`);
        const problem = await expectNginxProblem(res, 503);
        assertEquals(problem.code, "service_unavailable");
        assertSecurityHeaders(res);
      });
    } finally {
      if (nginx) {
        const status = await nginx.stop("SIGQUIT");
        if (!status.success && status.signal !== "SIGQUIT") console.log(nginx.output());
      }
      for (const [i, server] of servers.entries()) if (!stopped.has(i)) await server.shutdown();
      await prometheus.shutdown();
      await grafana.shutdown();
      await second.close();
      await first.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
