import { z } from "@hono/zod-openapi";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem } from "./helpers/app.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { defineRoute } from "@/http/router.ts";
import { jsonContent, problemResponses } from "@/http/openapi.ts";
import { captureLogs, logText } from "./helpers/logs.ts";

/** A route that exercises the shared body and validation mechanism every module uses. */
const echoRoute = defineRoute({
  method: "post",
  path: "/__test/echo",
  request: {
    body: {
      required: true,
      content: {
        "application/json": { schema: z.strictObject({ name: z.string().min(1).max(10) }) },
      },
    },
  },
  responses: {
    200: jsonContent(z.object({ name: z.string() }), "Echo"),
    ...problemResponses(400, 413, 415, 422),
  },
});

async function appWithTestRoutes(dialect: "sqlite" | "mysql", env: Record<string, string> = {}) {
  const t = await createTestApp(dialect, { env });
  t.app.route(
    "/",
    t.router()
      .openapi(echoRoute, (c) => c.json({ name: c.req.valid("json").name }, 200))
      .get("/__test/boom", () => {
        throw new Error("secret internal detail: SELECT * FROM users");
      })
      .get("/__test/slow", async (c) => {
        await new Promise((r) => setTimeout(r, 300));
        return c.json({ ok: true });
      }),
  );
  return t;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] every error status comes back as problem+json`, async (t) => {
    const app = await appWithTestRoutes(dialect, {
      BODY_LIMIT_BYTES: "2048",
      REQUEST_TIMEOUT: "100ms",
    });
    try {
      await t.step("400 for malformed JSON", async () => {
        const res = await app.request("POST", "/__test/echo", {
          body: "{not json",
          headers: { "Content-Type": "application/json" },
        });
        const body = await expectProblem(res, 400);
        assertEquals(body.detail, "Malformed JSON in request body");
      });
      await t.step("404 for an unknown path", async () => {
        const body = await expectProblem(await app.request("GET", "/no/such/path"), 404);
        assertEquals(body.code, "not_found");
      });
      await t.step("405 with Allow for a wrong method", async () => {
        const res = await app.request("DELETE", "/livez");
        assertEquals(res.headers.get("allow"), "GET, HEAD");
        await expectProblem(res, 405);
      });
      await t.step("413 for a body over the limit, declared or streamed", async () => {
        await expectProblem(
          await app.request("POST", "/__test/echo", { json: { name: "x".repeat(4000) } }),
          413,
        );
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < 10; i++) controller.enqueue(new Uint8Array(512).fill(32));
            controller.close();
          },
        });
        const res = await app.request("POST", "/__test/echo", {
          body: stream,
          headers: { "Content-Type": "application/json" },
        });
        await expectProblem(res, 413);
      });
      await t.step("415 for an unsupported media type", async () => {
        const res = await app.request("POST", "/__test/echo", {
          body: "name=x",
          headers: { "Content-Type": "text/plain" },
        });
        await expectProblem(res, 415);
      });
      await t.step("422 with field errors for invalid or unknown fields", async () => {
        const res = await app.request("POST", "/__test/echo", { json: { name: "", role_id: 1 } });
        const body = await expectProblem(res, 422);
        const errors = body.errors as Array<{ path: string; message: string }>;
        assert(errors.some((e) => e.path === "body.name"), JSON.stringify(errors));
        assert(errors.some((e) => e.message.includes("role_id")), JSON.stringify(errors));
      });
      await t.step("a valid body passes", async () => {
        const res = await app.request("POST", "/__test/echo", { json: { name: "ok" } });
        assertEquals(res.status, 200);
        assertEquals(await res.json(), { name: "ok" });
      });
      await t.step("500 hides the cause and carries the request id", async () => {
        const logs = await captureLogs();
        const res = await app.request("GET", "/__test/boom", {
          headers: { "X-Request-Id": "trace-500" },
        });
        const body = await expectProblem(res, 500);
        assertEquals(body.request_id, "trace-500");
        assert(!JSON.stringify(body).includes("SELECT"), "the 500 body leaks internals");
        assert(logText(logs).includes("secret internal detail"), "the stack must reach the log");
      });
      await t.step("503 when a request outlives the request timeout", async () => {
        const body = await expectProblem(await app.request("GET", "/__test/slow"), 503);
        assertEquals(body.code, "service_unavailable");
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] the request id is echoed when sane and generated otherwise`, async () => {
    const app = await appWithTestRoutes(dialect);
    try {
      const echoed = await app.request("GET", "/livez", { headers: { "X-Request-Id": "abc-123" } });
      assertEquals(echoed.headers.get("x-request-id"), "abc-123");
      await echoed.body?.cancel();
      const replaced = await app.request("GET", "/livez", {
        headers: { "X-Request-Id": "bad id with spaces <script>" },
      });
      const id = replaced.headers.get("x-request-id") ?? "";
      assert(/^[0-9a-f-]{36}$/.test(id), id);
      await replaced.body?.cancel();
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] responses carry the security headers`, async () => {
    const app = await appWithTestRoutes(dialect);
    try {
      const res = await app.request("GET", "/livez");
      await res.body?.cancel();
      const hsts = res.headers.get("strict-transport-security") ?? "";
      assert(Number(/max-age=(\d+)/.exec(hsts)?.[1]) >= 31_536_000, hsts);
      assertEquals(res.headers.get("x-content-type-options"), "nosniff");
      assert(res.headers.get("content-security-policy")?.includes("frame-ancestors 'none'"));
      assert(res.headers.get("referrer-policy"));
      assertEquals(res.headers.get("cache-control"), "no-store");
      assertEquals(res.headers.get("x-powered-by"), null);
      assertEquals(res.headers.get("server"), null);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] static files and docs pages keep their own cache and content policies`, async () => {
    const app = await appWithTestRoutes(dialect);
    try {
      const file = await app.request("GET", "/robots.txt");
      await file.body?.cancel();
      assertEquals(file.status, 200);
      assertEquals(file.headers.get("cache-control"), "public, max-age=3600");
      assert(file.headers.get("content-security-policy")?.includes("frame-ancestors 'none'"));
      const page = await app.request("GET", "/docs");
      await page.body?.cancel();
      assertEquals(page.status, 200);
      assertEquals(page.headers.get("cache-control"), "no-cache");
      const policy = page.headers.get("content-security-policy") ?? "";
      assert(policy.includes("script-src"), policy);
      // Bodiless answers get the security headers but no cache policy of their own.
      const redirect = await app.request("GET", "/");
      await redirect.body?.cancel();
      assertEquals(redirect.status, 302);
      assertEquals(redirect.headers.get("cache-control"), null);
      assertEquals(redirect.headers.get("x-frame-options"), "DENY");
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] GET / redirects to /docs and static files, favicon.ico included, are served`, async () => {
    const app = await appWithTestRoutes(dialect);
    try {
      const root = await app.request("GET", "/");
      assertEquals(root.status, 302);
      assertEquals(root.headers.get("location"), "/docs");
      const logo = await app.request("GET", "/logo.png");
      assertEquals(logo.status, 200);
      assertEquals(logo.headers.get("content-type"), "image/png");
      const bytes = new Uint8Array(await logo.arrayBuffer());
      assertEquals(Array.from(bytes.slice(1, 4)), [0x50, 0x4e, 0x47]);
      // What every browser asks for first: the logo, as an icon (an ICO holding the PNG).
      const favicon = await app.request("GET", "/favicon.ico");
      assertEquals(favicon.status, 200);
      assertEquals(favicon.headers.get("content-type"), "image/x-icon");
      const icon = new Uint8Array(await favicon.arrayBuffer());
      assertEquals(Array.from(icon.slice(0, 6)), [0, 0, 1, 0, 1, 0], "ICO header, one image");
      assertEquals(Array.from(icon.slice(22)), Array.from(bytes), "the logo inside");
      await expectProblem(await app.request("GET", "/../deno.json"), 404);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] /livez answers without the database and /readyz pings it`, async () => {
    const app = await appWithTestRoutes(dialect);
    try {
      assertEquals((await app.request("GET", "/livez")).status, 200);
      const ready = await app.request("GET", "/readyz");
      assertEquals(ready.status, 200);
      assertEquals(await ready.json(), { status: "ok" });
      app.deps.lifecycle.beginShutdown();
      await expectProblem(await app.request("GET", "/readyz"), 503);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] /readyz answers 503 when the database is unreachable`, async () => {
    const app = await appWithTestRoutes(dialect);
    try {
      await app.deps.db.close();
      const body = await expectProblem(await app.request("GET", "/readyz"), 503);
      assertEquals(body.detail, "Database unavailable");
      assertEquals((await app.request("GET", "/livez")).status, 200);
    } finally {
      await app.database.drop().catch(() => {});
    }
  });
}
