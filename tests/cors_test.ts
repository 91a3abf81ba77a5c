import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { createTestApp, expectProblem } from "./helpers/app.ts";
import { DIALECTS } from "./helpers/databases.ts";

const ALLOWED = "https://app.example.com";
const ALSO_ALLOWED = "http://localhost:5173";
const FOREIGN = "https://evil.example.net";

function varyIncludesOrigin(res: Response): boolean {
  return (res.headers.get("vary") ?? "").split(",").some((v) => v.trim() === "Origin");
}

function listHeader(res: Response, name: string): string[] {
  return (res.headers.get(name) ?? "").split(",").map((v) => v.trim().toLowerCase());
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] CORS answers the allowed origins and never echoes a foreign one`, async (t) => {
    const app = await createTestApp(dialect, {
      env: { CORS_ORIGINS: `${ALLOWED}, ${ALSO_ALLOWED}` },
    });
    try {
      await t.step("a simple request from an allowed origin is labelled for it", async () => {
        for (const origin of [ALLOWED, ALSO_ALLOWED]) {
          const res = await app.request("GET", "/livez", { headers: { Origin: origin } });
          assertEquals(res.status, 200);
          assertEquals(res.headers.get("access-control-allow-origin"), origin);
          assert(varyIncludesOrigin(res), `Vary: ${res.headers.get("vary")}`);
          const exposed = listHeader(res, "access-control-expose-headers");
          for (
            const name of [
              "x-request-id",
              "deprecation",
              "sunset",
              "ratelimit",
              "ratelimit-policy",
              "retry-after",
            ]
          ) {
            assert(exposed.includes(name), `${name} not exposed: ${exposed}`);
          }
          assertEquals(res.headers.get("access-control-allow-credentials"), null);
          await res.body?.cancel();
        }
      });

      await t.step("a foreign origin gets no CORS header at all", async () => {
        for (const origin of [FOREIGN, "null", `${ALLOWED}.evil.net`, "https://APP.example.com"]) {
          const res = await app.request("GET", "/livez", { headers: { Origin: origin } });
          assertEquals(res.status, 200);
          assertEquals(res.headers.get("access-control-allow-origin"), null, origin);
          assertEquals(res.headers.get("access-control-expose-headers"), null, origin);
          assert(varyIncludesOrigin(res), "caches must key on Origin");
          await res.body?.cancel();
        }
      });

      await t.step("without Origin the answer still varies on it", async () => {
        const res = await app.request("GET", "/livez");
        assertEquals(res.headers.get("access-control-allow-origin"), null);
        assert(varyIncludesOrigin(res));
        await res.body?.cancel();
      });

      await t.step("a preflight from an allowed origin is 204 with the allowed lists", async () => {
        // Preflights carry no X-Version and no Authorization, even to gated, secured routes.
        for (
          const [path, method] of [["/items", "POST"], ["/items/1", "PATCH"], ["/auth/me", "GET"]]
        ) {
          const res = await app.request("OPTIONS", path!, {
            headers: {
              Origin: ALLOWED,
              "Access-Control-Request-Method": method!,
              "Access-Control-Request-Headers":
                "authorization, content-type, x-version, x-request-id",
            },
          });
          assertEquals(res.status, 204, `${method} ${path}`);
          assertEquals(await res.text(), "");
          assertEquals(res.headers.get("access-control-allow-origin"), ALLOWED);
          const methods = listHeader(res, "access-control-allow-methods");
          for (const m of ["get", "post", "patch", "delete"]) assert(methods.includes(m), `${m}`);
          const headers = listHeader(res, "access-control-allow-headers");
          for (const h of ["authorization", "content-type", "x-version", "x-request-id"]) {
            assert(headers.includes(h), `${h} not allowed: ${headers}`);
          }
          assert(Number(res.headers.get("access-control-max-age")) > 0);
          assert(varyIncludesOrigin(res));
        }
      });

      await t.step("a preflight from a foreign origin is 403 and echoes nothing", async () => {
        const res = await app.request("OPTIONS", "/items", {
          headers: { Origin: FOREIGN, "Access-Control-Request-Method": "POST" },
        });
        assertEquals(res.headers.get("access-control-allow-origin"), null);
        assertEquals(res.headers.get("access-control-allow-methods"), null);
        const body = await expectProblem(res, 403);
        assertEquals(body.code, "cors_origin_not_allowed");
        assert(!JSON.stringify(body).includes(FOREIGN), "the foreign origin is echoed");
      });

      await t.step("errors are readable cross-origin too (401, 426, 404)", async () => {
        const unauthorized = await app.request("GET", "/auth/me", { headers: { Origin: ALLOWED } });
        assertEquals(unauthorized.headers.get("access-control-allow-origin"), ALLOWED);
        await expectProblem(unauthorized, 401);
        const retired = await app.request("GET", "/items", {
          headers: { Origin: ALLOWED, "X-Version": "0.1" },
        });
        assertEquals(retired.headers.get("access-control-allow-origin"), ALLOWED);
        await expectProblem(retired, 426);
        const missing = await app.request("GET", "/no/such/path", { headers: { Origin: ALLOWED } });
        assertEquals(missing.headers.get("access-control-allow-origin"), ALLOWED);
        await expectProblem(missing, 404);
      });

      await t.step("an OPTIONS without Access-Control-Request-Method is no preflight", async () => {
        const res = await app.request("OPTIONS", "/livez", { headers: { Origin: ALLOWED } });
        assert(res.status !== 204, "answered as a preflight");
        assertEquals(res.headers.get("access-control-allow-methods"), null);
        await res.body?.cancel();
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] with CORS_ORIGINS empty nothing is cross-origin`, async () => {
    const app = await createTestApp(dialect);
    try {
      const res = await app.request("GET", "/livez", { headers: { Origin: ALLOWED } });
      assertEquals(res.headers.get("access-control-allow-origin"), null);
      assert(!varyIncludesOrigin(res), "nothing varies when no origin is allowed");
      await res.body?.cancel();
      const preflight = await app.request("OPTIONS", "/items", {
        headers: { Origin: ALLOWED, "Access-Control-Request-Method": "GET" },
      });
      assertEquals(preflight.headers.get("access-control-allow-origin"), null);
      const body = await expectProblem(preflight, 403);
      assertStringIncludes(String(body.detail), "not allowed");
    } finally {
      await app.close();
    }
  });
}
