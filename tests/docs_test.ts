import denoJson from "../deno.json" with { type: "json" };
import { Hono } from "hono";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./helpers/assert.ts";
import { createTestApp, expectProblem, TEST_ADMIN, type TestApp } from "./helpers/app.ts";
import { createUser } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { captureLogs, logText } from "./helpers/logs.ts";
import { AppError } from "@/http/errors.ts";
import { adminLoginCheck } from "@/modules/auth/auth.service.ts";
import type { AppEnv } from "@/middleware/app-env.ts";
import {
  type CredentialThrottle,
  DOCS_AUTH_CACHE_TTL_MS,
  docsBasicAuth,
  parseBasicCredentials,
} from "@/middleware/docs-auth.ts";
import {
  DOCS_ASSET_SOURCES,
  DocsAssetMissingError,
  DocsAssets,
  fileFromTarball,
  readDocsAsset,
} from "@/modules/docs/docs.assets.ts";
import { SCALAR_CONFIGURATION } from "@/modules/docs/docs.pages.ts";
import { ROLE_IDS } from "@/modules/roles/roles.ts";
import {
  findUserWithHashByUsername,
  insertUser,
  updateUser,
} from "@/modules/users/users.repository.ts";

const DOCS_PATHS = [
  "/openapi.json",
  "/docs",
  "/docs/swagger",
  "/docs/assets/scalar/init.js",
  "/docs/assets/scalar/standalone.js",
  "/docs/assets/swagger-ui/init.js",
  "/docs/assets/swagger-ui/swagger-ui-bundle.js",
  "/docs/assets/swagger-ui/swagger-ui.css",
];

function basic(username: string, password: string): Record<string, string> {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  return { Authorization: `Basic ${btoa(String.fromCharCode(...bytes))}` };
}

const ADMIN = basic(TEST_ADMIN.username, TEST_ADMIN.password);

function csp(res: Response): Map<string, string> {
  const policy = res.headers.get("content-security-policy") ?? "";
  return new Map(
    policy.split(";").map((d) => d.trim()).filter(Boolean).map((d) => {
      const [name, ...values] = d.split(/\s+/);
      return [name!, values.join(" ")];
    }),
  );
}

/** Every `src`/`href` in a page; none may leave the origin. */
function pageUrls(html: string): string[] {
  return [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] the docs pages and their assets are served by the service itself`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      await t.step(
        "GET /openapi.json is the OpenAPI 3.1 document, versioned from deno.json",
        async () => {
          const res = await app.request("GET", "/openapi.json");
          assertEquals(res.status, 200);
          assertStringIncludes(res.headers.get("content-type") ?? "", "application/json");
          const doc = await res.json();
          assert(String(doc.openapi).startsWith("3.1."), doc.openapi);
          assertEquals(doc.info.version, denoJson.version);
          const etag = res.headers.get("etag");
          assert(etag, "no ETag");
          const again = await app.request("GET", "/openapi.json", {
            headers: { "If-None-Match": etag },
          });
          assertEquals(again.status, 304);
          await again.body?.cancel();
        },
      );

      await t.step("/docs (Scalar) loads only same-origin scripts under a strict CSP", async () => {
        const res = await app.request("GET", "/docs");
        assertEquals(res.status, 200);
        assertStringIncludes(res.headers.get("content-type") ?? "", "text/html");
        const html = await res.text();
        const policy = csp(res);
        assertEquals(policy.get("default-src"), "'self'");
        assertEquals(policy.get("script-src"), "'self'");
        assertEquals(policy.get("connect-src"), "'self'");
        assertEquals(policy.get("font-src"), "'self'");
        assertEquals(policy.get("frame-ancestors"), "'none'");
        assert(!/<script(?![^>]*\ssrc=)[^>]*>/.test(html), "inline script on the page");
        for (const url of pageUrls(html)) assert(url.startsWith("/"), `off-origin URL ${url}`);
        assertStringIncludes(html, "/docs/assets/scalar/standalone.js");
      });

      await t.step("/docs/swagger (Swagger UI) likewise, with no inline style either", async () => {
        const res = await app.request("GET", "/docs/swagger");
        assertEquals(res.status, 200);
        const html = await res.text();
        const policy = csp(res);
        assertEquals(policy.get("script-src"), "'self'");
        assertEquals(policy.get("style-src"), "'self'");
        assertEquals(policy.get("connect-src"), "'self'");
        assertEquals(policy.get("frame-ancestors"), "'none'");
        assert(!/<script(?![^>]*\ssrc=)[^>]*>/.test(html), "inline script on the page");
        for (const url of pageUrls(html)) assert(url.startsWith("/"), `off-origin URL ${url}`);
      });

      await t.step("the init scripts turn off everything that calls another host", async () => {
        const scalar = await (await app.request("GET", "/docs/assets/scalar/init.js")).text();
        for (
          const needle of [
            '"withDefaultFonts": false',
            '"hideClientButton": true',
            '"telemetry": false',
            '"disabled": true',
          ]
        ) assertStringIncludes(scalar, needle);
        assert(!scalar.includes("proxyUrl"), "a proxy URL is configured");
        assertEquals(SCALAR_CONFIGURATION.agent.disabled, true);
        const swagger = await (await app.request("GET", "/docs/assets/swagger-ui/init.js")).text();
        assertStringIncludes(swagger, '"validatorUrl": null');
        assert(!/https?:\/\//.test(scalar + swagger), "an absolute URL in an init script");
      });

      await t.step(
        "package assets: right type, gzip when accepted, ETag revalidation",
        async () => {
          const plain = await app.request("GET", "/docs/assets/scalar/standalone.js");
          assertEquals(plain.status, 200);
          assertEquals(plain.headers.get("content-type"), "text/javascript; charset=utf-8");
          assertEquals(plain.headers.get("content-encoding"), null);
          const body = new Uint8Array(await plain.arrayBuffer());
          assert(body.length > 1_000_000, `Scalar's bundle is ${body.length} bytes`);

          const zipped = await app.request("GET", "/docs/assets/scalar/standalone.js", {
            headers: { "Accept-Encoding": "gzip, br" },
          });
          assertEquals(zipped.headers.get("content-encoding"), "gzip");
          assertStringIncludes(zipped.headers.get("vary") ?? "", "Accept-Encoding");
          const compressed = new Uint8Array(await zipped.arrayBuffer());
          assert(compressed.length < body.length / 2, "gzip did not shrink it");
          const unzipped = new Uint8Array(
            await new Response(
              new Blob([compressed]).stream().pipeThrough(new DecompressionStream("gzip")),
            ).arrayBuffer(),
          );
          assertEquals(unzipped.length, body.length);
          assert(zipped.headers.get("etag") !== plain.headers.get("etag"), "same ETag for both");

          const css = await app.request("GET", "/docs/assets/swagger-ui/swagger-ui.css", {
            headers: { "If-None-Match": '"stale"' },
          });
          assertEquals(css.headers.get("content-type"), "text/css; charset=utf-8");
          const etag = css.headers.get("etag")!;
          await css.body?.cancel();
          const notModified = await app.request("GET", "/docs/assets/swagger-ui/swagger-ui.css", {
            headers: { "If-None-Match": etag },
          });
          assertEquals(notModified.status, 304);
          await notModified.body?.cancel();
          const head = await app.request("HEAD", "/docs/assets/swagger-ui/swagger-ui-bundle.js");
          assertEquals(head.status, 200);
          assertEquals(await head.text(), "");
        },
      );

      await t.step("an unknown asset is a 404 problem", async () => {
        await expectProblem(await app.request("GET", "/docs/assets/../deno.json"), 404);
        await expectProblem(await app.request("GET", "/docs/assets/scalar/standalone.js.map"), 404);
        await expectProblem(await app.request("GET", "/docs/assets/"), 404);
      });

      await t.step("docs are never version-gated, and `/` leads to them", async () => {
        const res = await app.request("GET", "/docs", { headers: { "X-Version": "0.1" } });
        assertEquals(res.status, 200);
        await res.body?.cancel();
        const root = await app.request("GET", "/");
        assertEquals(root.status, 302);
        assertEquals(root.headers.get("location"), "/docs");
        const slash = await app.request("GET", "/docs/");
        assertEquals(slash.status, 308);
        assertEquals(slash.headers.get("location"), "/docs");
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] DOCS_AUTH=basic lets active admins in and nobody else`, async (t) => {
    const app = await createTestApp(dialect, { env: { DOCS_AUTH: "basic" } });
    try {
      const expectChallenge = async (res: Response) => {
        assertEquals(
          res.headers.get("www-authenticate"),
          'Basic realm="items-api docs", charset="UTF-8"',
        );
        return await expectProblem(res, 401);
      };

      await t.step(
        "no credentials: 401 problem with a Basic challenge on every docs path",
        async () => {
          for (const path of DOCS_PATHS) await expectChallenge(await app.request("GET", path));
        },
      );

      await t.step("an active admin sees everything", async () => {
        for (const path of DOCS_PATHS) {
          const res = await app.request("GET", path, { headers: ADMIN });
          assertEquals(res.status, 200, path);
          assertStringIncludes(res.headers.get("cache-control") ?? "", "private");
          await res.body?.cancel();
        }
      });

      await t.step("wrong password, unknown user, malformed header, Bearer: 401", async () => {
        const logs = await captureLogs();
        const wrong = await expectChallenge(
          await app.request("GET", "/docs", { headers: basic(TEST_ADMIN.username, "nope-nope") }),
        );
        assertEquals(wrong.detail, "Invalid credentials");
        const unknown = await expectChallenge(
          await app.request("GET", "/docs", { headers: basic("nobody-here", TEST_ADMIN.password) }),
        );
        assertEquals(unknown.detail, wrong.detail);
        for (
          const header of [
            "Basic",
            "Basic !!!",
            `Basic ${btoa("no-colon")}`,
            `Basic ${btoa(":empty-user")}`,
            "Bearer abc",
            `Basic ${"A".repeat(4000)}`,
          ]
        ) {
          await expectChallenge(
            await app.request("GET", "/openapi.json", { headers: { Authorization: header } }),
          );
        }
        const text = logText(logs);
        assert(!text.includes("nope-nope"), "a password reached the log");
        assert(!text.includes(ADMIN.Authorization!.slice(6)), "a Basic header reached the log");
      });

      await t.step("a user who is not an admin, or an inactive admin, is refused", async () => {
        const user = await createUser(app);
        await expectChallenge(
          await app.request("GET", "/docs", { headers: basic(user.username, user.password) }),
        );
        const password = "inactive-admin-password";
        const id = await insertUser(app.deps.db, {
          username: "inactive_admin",
          passwordHash: await app.deps.passwords.hash(password),
          roleId: ROLE_IDS.admin,
          now: app.clock.now(),
        });
        const active = await app.request("GET", "/docs", {
          headers: basic("inactive_admin", password),
        });
        assertEquals(active.status, 200);
        await active.body?.cancel();
        await updateUser(app.deps.db, id, { activated: false }, app.clock.now());
        // Remembered for a short while, then checked again.
        app.clock.advance(DOCS_AUTH_CACHE_TTL_MS + 1);
        await expectChallenge(
          await app.request("GET", "/docs", { headers: basic("inactive_admin", password) }),
        );
      });

      await t.step("a success is remembered for a minute, not longer", async () => {
        const admin = await findUserWithHashByUsername(app.deps.db, TEST_ADMIN.username);
        assert(admin, "bootstrap admin");
        const first = await app.request("GET", "/docs", { headers: ADMIN });
        assertEquals(first.status, 200);
        await first.body?.cancel();
        // Change the password behind the cache's back: the remembered header still works...
        await updateUser(app.deps.db, admin.id, {
          passwordHash: await app.deps.passwords.hash("a-brand-new-password"),
        }, app.clock.now());
        app.clock.advance(DOCS_AUTH_CACHE_TTL_MS - 1_000);
        const cached = await app.request("GET", "/docs/swagger", { headers: ADMIN });
        assertEquals(cached.status, 200);
        await cached.body?.cancel();
        // ...until the minute is over.
        app.clock.advance(2_000);
        await expectChallenge(await app.request("GET", "/docs", { headers: ADMIN }));
        const fresh = await app.request("GET", "/docs", {
          headers: basic(TEST_ADMIN.username, "a-brand-new-password"),
        });
        assertEquals(fresh.status, 200);
        await fresh.body?.cancel();
      });

      await t.step("the API itself is not behind docs auth", async () => {
        const res = await app.request("GET", "/livez");
        assertEquals(res.status, 200);
        await res.body?.cancel();
      });
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] the docs login counts each attempt with its throttle before verifying`, async () => {
    const app: TestApp = await createTestApp(dialect);
    try {
      const calls: string[] = [];
      let blocked = false;
      const throttle: CredentialThrottle = {
        attempt: (_c, username) => {
          calls.push(`attempt ${username}`);
          if (blocked) {
            return Promise.reject(
              new AppError(429, "rate_limited", "Too many attempts", {
                headers: { "Retry-After": "60" },
              }),
            );
          }
          return Promise.resolve({
            succeeded: () => {
              calls.push(`succeeded ${username}`);
              return Promise.resolve();
            },
          });
        },
      };
      app.app.route(
        "/",
        new Hono<AppEnv>().get(
          "/__test/docs",
          docsBasicAuth({
            throttle,
            isAdmin: adminLoginCheck(app.deps),
            clock: app.deps.clock,
          }),
          (c) => c.text("ok"),
        ),
      );
      const get = (headers: Record<string, string>) =>
        app.request("GET", "/__test/docs", { headers });

      await expectProblem(await get(basic(TEST_ADMIN.username, "wrong-password")), 401);
      assertEquals(calls, [`attempt ${TEST_ADMIN.username}`]);
      calls.length = 0;
      assertEquals((await get(ADMIN)).status, 200);
      assertEquals(calls, [`attempt ${TEST_ADMIN.username}`, `succeeded ${TEST_ADMIN.username}`]);
      // A remembered success costs no attempt, even while throttled.
      calls.length = 0;
      blocked = true;
      assertEquals((await get(ADMIN)).status, 200);
      assertEquals(calls, []);
      const limited = await get(basic(TEST_ADMIN.username, "another-guess"));
      assertEquals(limited.headers.get("retry-after"), "60");
      await expectProblem(limited, 429);
    } finally {
      await app.close();
    }
  });
}

Deno.test("parseBasicCredentials() splits at the first colon and decodes UTF-8", () => {
  const encode = (text: string) =>
    `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(text)))}`;
  assertEquals(parseBasicCredentials(encode("admin:pa:ss")), {
    username: "admin",
    password: "pa:ss",
  });
  assertEquals(parseBasicCredentials(encode("zoë:pässwörd")), {
    username: "zoë",
    password: "pässwörd",
  });
  assertEquals(parseBasicCredentials(`basic   ${btoa("a:b")}`), { username: "a", password: "b" });
  assertEquals(parseBasicCredentials(encode("admin:")), { username: "admin", password: "" });
  assertEquals(parseBasicCredentials(undefined), undefined);
  assertEquals(parseBasicCredentials(encode(":x")), undefined);
  assertEquals(parseBasicCredentials(`Basic ${btoa("\xff\xfe:x")}`), undefined);
  assertEquals(parseBasicCredentials("Basic a b"), undefined);
});

Deno.test("Scalar's bundle is taken alone out of its pinned npm tarball, once, and a tarball that does not match its integrity is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const embeddedDir = new URL(`file://${dir}/`);
    const bundle = await readDocsAsset("scalar/standalone.js", { embeddedDir });
    assert(bundle.length > 1_000_000, `${bundle.length} bytes`);
    const head = new TextDecoder().decode(bundle.subarray(0, 1_000));
    assert(head.includes("scalar-style"), "not Scalar's standalone bundle");
    // Kept in the embedded folder, so the next start reads the file instead of the registry.
    assertEquals((await Deno.stat(`${dir}/scalar/standalone.js`)).size, bundle.length);

    const source = DOCS_ASSET_SOURCES["scalar/standalone.js"];
    const forged = { ...source, integrity: `sha512-${btoa("x".repeat(64))}` };
    const refused = await assertRejects(() => fileFromTarball(forged), DocsAssetMissingError);
    assertStringIncludes(refused.message, "does not match");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docs assets come from the npm package, else from the embedded folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const embeddedDir = new URL(`file://${dir}/`);
    const noPackage = { resolvePackage: () => undefined, embeddedDir };
    const missing = await assertRejects(
      () => readDocsAsset("swagger-ui/swagger-ui.css", noPackage),
      DocsAssetMissingError,
    );
    assertStringIncludes(missing.message, "swagger-ui/swagger-ui.css");

    // What a compiled binary sees: no package, the file copied by `deno task docs:assets`.
    await Deno.mkdir(`${dir}/swagger-ui`);
    await Deno.writeTextFile(`${dir}/swagger-ui/swagger-ui.css`, "body{}");
    const embedded = await readDocsAsset("swagger-ui/swagger-ui.css", noPackage);
    assertEquals(new TextDecoder().decode(embedded), "body{}");

    // With the package installed it wins over a possibly stale copy.
    const fromPackage = await readDocsAsset("swagger-ui/swagger-ui.css", { embeddedDir });
    assert(fromPackage.length > 10_000, `${fromPackage.length} bytes`);

    // A failed load is not cached: the next request tries again.
    const assets = new DocsAssets(noPackage);
    await Deno.remove(`${dir}/swagger-ui/swagger-ui.css`);
    await assertRejects(() => assets.get("swagger-ui/swagger-ui.css"), DocsAssetMissingError);
    await Deno.writeTextFile(`${dir}/swagger-ui/swagger-ui.css`, "p{}");
    assertEquals((await assets.get("swagger-ui/swagger-ui.css")).body.length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
