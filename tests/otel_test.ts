import { assert, assertEquals } from "./helpers/assert.ts";
import { startServiceProcess } from "./helpers/process.ts";

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string };
}

interface OtlpSpan {
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
}

/** SERVER spans (kind 2) of OTLP/HTTP JSON trace exports. */
function serverSpans(exports: unknown[]): OtlpSpan[] {
  const spans: OtlpSpan[] = [];
  for (const body of exports) {
    const resourceSpans = (body as { resourceSpans?: unknown[] }).resourceSpans ?? [];
    for (const rs of resourceSpans as Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>) {
      for (const scope of rs.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) if (span.kind === 2) spans.push(span);
      }
    }
  }
  return spans;
}

function attribute(span: OtlpSpan, key: string): string | undefined {
  const found = span.attributes.find((a) => a.key === key);
  return found?.value.stringValue ?? found?.value.intValue;
}

Deno.test("with OTEL_DENO=true, server spans carry the route pattern and the request id", async () => {
  // A tiny OTLP/HTTP receiver (JSON encoding) standing in for a collector.
  const traces: unknown[] = [];
  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const body = await request.text();
      if (new URL(request.url).pathname === "/v1/traces") traces.push(JSON.parse(body));
      return Response.json({});
    },
  );
  const dir = await Deno.makeTempDir({ prefix: "items-api-otel-" });
  const service = await startServiceProcess({
    DATABASE_URL: `sqlite:${dir}/otel.db`,
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: "items-api-test",
    OTEL_DENO_CONSOLE: "ignore",
  });
  try {
    const res = await fetch(`${service.baseUrl}/roles/2`, {
      headers: { "X-Request-Id": "otel-probe-1" },
    });
    await res.body?.cancel();
    const missing = await fetch(`${service.baseUrl}/no/such/path`);
    await missing.body?.cancel();
    const missingId = missing.headers.get("x-request-id");

    // Deno flushes pending spans when the process exits.
    const status = await service.stop();
    assertEquals(status.code, 0, service.output());

    const spans = serverSpans(traces);
    const role = spans.find((s) => attribute(s, "request.id") === "otel-probe-1");
    assert(role, `no span with the request id; got ${JSON.stringify(spans.map((s) => s.name))}`);
    assertEquals(role.name, "GET /roles/:role_id");
    assertEquals(attribute(role, "http.route"), "/roles/:role_id");
    assertEquals(attribute(role, "url.path"), "/roles/2");

    const unmatched = spans.find((s) => attribute(s, "request.id") === missingId);
    assert(unmatched, "no span for the unmatched request");
    assertEquals(unmatched.name, "GET");
    assertEquals(attribute(unmatched, "http.route"), undefined);
  } finally {
    await service.stop();
    await receiver.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
