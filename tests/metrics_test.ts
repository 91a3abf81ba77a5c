import { API_KEY_SERIES_MAX, createMetrics } from "@/runtime/metrics.ts";
import { metricsHandler } from "@/runtime/metrics-server.ts";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { createTestApp, expectProblem, TEST_ADMIN } from "./helpers/app.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { freePort, startServiceProcess } from "./helpers/process.ts";

const PROMTOOL = "/usr/bin/promtool";

/** Run `promtool check metrics` on `text`; undefined when promtool is not installed. */
async function promtoolCheck(text: string): Promise<{ ok: boolean; output: string } | undefined> {
  try {
    await Deno.stat(PROMTOOL);
  } catch {
    return undefined;
  }
  const child = new Deno.Command(PROMTOOL, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { ok: success, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** The value of the sample `series` (name with labels, exactly as exposed), or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] /metrics output after traffic passes promtool check metrics`, async () => {
    const t = await createTestApp(dialect);
    try {
      const login = (password: string) =>
        t.request("POST", "/auth/token", {
          json: { username: TEST_ADMIN.username, password },
        });
      for (let i = 0; i < 2; i++) await (await t.request("GET", "/livez")).body?.cancel();
      await (await t.request("GET", "/roles/2")).body?.cancel();
      await expectProblem(await t.request("GET", "/roles/9999"), 404);
      await expectProblem(await t.request("GET", "/no/such/path"), 404);
      await expectProblem(await t.request("GET", "/items/1/also/not"), 404);
      await (await t.request("PROPFIND", "/livez")).body?.cancel();
      await expectProblem(
        await t.request("GET", "/roles", { headers: { "X-Version": "0.1" } }),
        426,
      );
      assertEquals((await login(TEST_ADMIN.password)).status, 200);
      await expectProblem(await login("wrong-password-1"), 401);
      await expectProblem(
        await t.request("POST", "/auth/refresh", { json: { refresh_token: "x".repeat(43) } }),
        401,
      );

      const text = await t.deps.metrics.render();
      assertEquals(
        sample(text, 'http_requests_total{method="GET",route="/livez",status="200"}'),
        2,
      );
      assertEquals(
        sample(text, 'http_requests_total{method="GET",route="/roles/:role_id",status="200"}'),
        1,
      );
      assertEquals(
        sample(text, 'http_requests_total{method="GET",route="/roles/:role_id",status="404"}'),
        1,
      );
      // Unknown paths share one label value, whatever the path was.
      assertEquals(
        sample(text, 'http_requests_total{method="GET",route="unmatched",status="404"}'),
        2,
      );
      // Unknown methods share one label value too.
      assert(/http_requests_total\{method="OTHER",route="[^"]+",status="\d+"\} 1/.test(text), text);
      assert(!text.includes("/no/such/path") && !text.includes("PROPFIND"), text);
      assertEquals(
        sample(
          text,
          'http_request_duration_seconds_count{method="GET",route="/livez",status="200"}',
        ),
        2,
      );
      assertEquals(
        sample(
          text,
          'http_request_duration_seconds_bucket{method="GET",route="/livez",status="200",le="+Inf"}',
        ),
        2,
      );
      assertEquals(sample(text, "http_requests_in_flight"), 0);
      assertEquals(sample(text, 'auth_logins_total{outcome="success"}'), 1);
      assertEquals(sample(text, 'auth_logins_total{outcome="failure"}'), 1);
      assertEquals(sample(text, 'auth_token_refreshes_total{outcome="failure"}'), 1);
      assertEquals(sample(text, "version_gate_rejections_total"), 1);
      for (const gauge of ["in_use", "idle"]) {
        assert(sample(text, `db_pool_connections_${gauge}`) !== undefined, `no ${gauge} gauge`);
      }
      assertEquals(sample(text, "db_pool_waiting_requests"), 0);
      assertEquals(sample(text, 'rate_limited_requests_total{scope="api"}'), 0);

      const check = await promtoolCheck(text);
      if (!check) {
        console.log(
          `SKIPPED promtool check: ${PROMTOOL} is not installed (apt package prometheus)`,
        );
        return;
      }
      assert(check.ok, `promtool check metrics failed:\n${check.output}`);
      assertEquals(check.output.trim(), "");
    } finally {
      await t.close();
    }
  });
}

Deno.test("api_key_requests_total keeps a series for the first keys only and counts the rest as other", async () => {
  const metrics = createMetrics({ version: "test", apiKeySeriesMax: 3 });
  const series = async () =>
    Object.fromEntries(
      (await metrics.render()).split("\n")
        .map((line) => /^api_key_requests_total\{key_id="([^"]+)"\} (\d+)$/.exec(line))
        .filter((match) => match !== null)
        .map((match) => [match![1]!, Number(match![2])]),
    );
  for (const keyId of [1, 2, 3, 4, 5, 1, 5]) metrics.countApiKeyRequest(keyId);
  assertEquals(await series(), { "1": 2, "2": 1, "3": 1, other: 3 });
  // A revoked key frees its place: the next new key gets its own series.
  metrics.forgetApiKey(2);
  metrics.forgetApiKey(99); // never counted: nothing to drop
  metrics.countApiKeyRequest(6);
  metrics.countApiKeyRequest(7);
  assertEquals(await series(), { "1": 2, "3": 1, "6": 1, other: 4 });

  // The default bound: 1 000 keys make at most API_KEY_SERIES_MAX + 1 series.
  const many = createMetrics({ version: "test" });
  for (let keyId = 1; keyId <= 1000; keyId++) many.countApiKeyRequest(keyId);
  const lines = (await many.render()).split("\n").filter((l) =>
    l.startsWith("api_key_requests_total{")
  );
  assertEquals(lines.length, API_KEY_SERIES_MAX + 1);
  assertStringIncludes(
    lines.join("\n"),
    `api_key_requests_total{key_id="other"} ${1000 - API_KEY_SERIES_MAX}`,
  );
});

Deno.test("GET /metrics is not served on the API port", async () => {
  const t = await createTestApp("sqlite");
  try {
    await expectProblem(await t.request("GET", "/metrics"), 404);
  } finally {
    await t.close();
  }
});

Deno.test("the metrics handler answers GET and HEAD /metrics only", async () => {
  const metrics = createMetrics({ version: "test" });
  const handle = metricsHandler(metrics);
  const res = await handle(new Request("http://metrics.local/metrics"));
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assertStringIncludes(await res.text(), "# TYPE http_requests_total counter");
  const head = await handle(new Request("http://metrics.local/metrics", { method: "HEAD" }));
  assertEquals(head.status, 200);
  assertEquals(await head.text(), "");
  const other = await handle(new Request("http://metrics.local/"));
  assertEquals(other.status, 404);
  await other.body?.cancel();
  const post = await handle(new Request("http://metrics.local/metrics", { method: "POST" }));
  assertEquals(post.status, 405);
  assertEquals(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});

Deno.test("process metrics agree with what Deno and /proc report", async () => {
  const metrics = createMetrics({ version: "test" });
  const before = await metrics.render();
  const rss = sample(before, "process_resident_memory_bytes")!;
  const actualRss = Deno.memoryUsage().rss;
  assert(Math.abs(rss - actualRss) < actualRss * 0.25, `rss ${rss} vs ${actualRss}`);
  const started = sample(before, "process_start_time_seconds")!;
  assert(Math.abs(started - performance.timeOrigin / 1000) <= 1, `start time ${started}`);
  assert(sample(before, "process_cpu_seconds_total")! > 0);
  assert(sample(before, "deno_heap_size_used_bytes")! > 0);
  assert(!before.includes("nodejs_"), "no Node-only metric is exported");
  if (Deno.build.os !== "linux") return;
  const files = Array.from({ length: 5 }, () => Deno.openSync(Deno.execPath()));
  try {
    const after = await metrics.render();
    assertEquals(
      sample(after, "process_open_fds")! - sample(before, "process_open_fds")!,
      5,
    );
    assert(sample(after, "process_max_fds")! >= 1024);
  } finally {
    for (const file of files) file.close();
  }
});

Deno.test("the event-loop monitor records a blocked event loop", async () => {
  const metrics = createMetrics({ version: "test" });
  const stop = metrics.startEventLoopMonitor();
  try {
    // Block the loop for 300 ms: the 100 ms timer fires at least 200 ms late.
    const until = performance.now() + 300;
    while (performance.now() < until) { /* busy */ }
    await new Promise((resolve) => setTimeout(resolve, 150));
  } finally {
    stop();
  }
  const text = await metrics.render();
  const count = sample(text, "deno_event_loop_delay_seconds_count")!;
  const fast = sample(text, 'deno_event_loop_delay_seconds_bucket{le="0.1"}')!;
  assert(count >= 1, text);
  assert(fast < count, `no sample above 100 ms:\n${text}`);
});

if (DIALECTS.includes("mysql")) {
  Deno.test("[mysql] pool gauges show a connection checked out by a transaction", async () => {
    const t = await createTestApp("mysql");
    try {
      const during = await t.deps.db.transaction(async (tx) => {
        await tx.query("SELECT 1");
        return await t.deps.metrics.render();
      });
      assert(sample(during, "db_pool_connections_in_use")! >= 1, during);
      const after = await t.deps.metrics.render();
      assertEquals(sample(after, "db_pool_connections_in_use"), 0);
      assert(sample(after, "db_pool_connections_idle")! >= 1, after);
    } finally {
      await t.close();
    }
  });
}

Deno.test("the service serves /metrics on METRICS_PORT only, and closes it on shutdown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "items-api-metrics-" });
  const metricsPort = freePort();
  const service = await startServiceProcess({
    DATABASE_URL: `sqlite:${dir}/metrics.db`,
    METRICS_PORT: String(metricsPort),
  });
  try {
    const api = await fetch(`${service.baseUrl}/metrics`);
    assertEquals(api.status, 404);
    await api.body?.cancel();
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assertEquals(res.status, 200);
    const text = await res.text();
    // The readiness poll of the helper reached the API and was counted.
    assert(
      sample(text, 'http_requests_total{method="GET",route="/livez",status="200"}')! >= 1,
      text,
    );
    assertStringIncludes(text, 'items_api_build_info{version="1.0.0"');
    assertStringIncludes(text, "deno_event_loop_delay_seconds_count");

    const status = await service.stop();
    assertEquals(status.code, 0, service.output());
    let refused = false;
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: metricsPort })).close();
    } catch {
      refused = true;
    }
    assert(refused, "the metrics listener still accepts connections after shutdown");
  } finally {
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
