import type { Database, Queryable } from "@/db/database.ts";
import { ManualClock } from "@/runtime/clock.ts";
import { createRouter } from "@/http/router.ts";
import { VERSION_NOT_SUPPORTED, versionGate } from "@/middleware/version-gate.ts";
import { VERSIONED_PATH_PREFIXES } from "@/app.ts";
import { VersionsCache } from "@/modules/versions/client-versions.ts";
import { loadVersions } from "@/modules/versions/versions.service.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin } from "./helpers/auth.ts";
import { createTestDatabase, DIALECTS, type TestDatabase } from "./helpers/databases.ts";
import { captureLogs } from "./helpers/logs.ts";

/** Paths that must never be gated, whatever X-Version says. */
const EXEMPT_PATHS = ["/versions", "/livez", "/readyz", "/", "/logo.png", "/robots.txt"];
/** Documented routes outside the gate's allow-list. */
const EXEMPT_DOCUMENTED = new Set(["/versions", "/versions/{version_id}", "/livez", "/readyz"]);

async function patchVersion(t: TestApp, admin: string, id: number, json: unknown) {
  const res = await t.request("PATCH", `/versions/${id}`, { json, headers: bearer(admin) });
  assertEquals(res.status, 200, await res.clone().text());
  return await res.json() as { id: number };
}

/** A Database that counts every statement run through it (transactions included). */
function countingDatabase(inner: Database): { db: Database; calls: () => number } {
  let calls = 0;
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => {
      calls++;
      return q.query(sql, params);
    },
    execute: (sql, params) => {
      calls++;
      return q.execute(sql, params);
    },
  });
  const outer = wrap(inner);
  const db: Database = {
    dialect: inner.dialect,
    query: outer.query,
    execute: outer.execute,
    transaction: (fn) => inner.transaction((tx) => fn(wrap(tx))),
    withLock: (name, wait, fn) => inner.withLock(name, wait, fn),
    ping: (ms) => {
      calls++;
      return inner.ping(ms);
    },
    stats: () => inner.stats(),
    withBudget: () => db,
    close: () => inner.close(),
  };
  return { db, calls: () => calls };
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] the X-Version gate allows, refuses and marks versions`, async (s) => {
    // The clock moves by weeks here: keep the test's tokens alive meanwhile.
    const t = await createTestApp(dialect, {
      env: { ACCESS_TOKEN_TTL: "365d", REFRESH_TOKEN_TTL: "365d" },
    });
    try {
      const user = await createUser(t);
      const admin = (await loginAdmin(t)).access_token;
      const get = (headers: Record<string, string>) => t.request("GET", "/items", { headers });

      await s.step("no header, or an empty one, is allowed", async () => {
        const variants: Array<Record<string, string>> = [{}, { "X-Version": "" }];
        for (const headers of variants) {
          const res = await get({ ...bearer(user.token), ...headers });
          assertEquals(res.status, 200);
          assertEquals(res.headers.get("deprecation"), null);
          await res.body?.cancel();
        }
      });
      await s.step("a supported version is allowed without deprecation headers", async () => {
        const res = await get({ ...bearer(user.token), "X-Version": "1.0" });
        assertEquals(res.status, 200);
        assertEquals(res.headers.get("deprecation"), null);
        assertEquals(res.headers.get("sunset"), null);
        await res.body?.cancel();
      });
      await s.step("unknown and unsupported versions get 426 with the latest version", async () => {
        for (const version of ["0.1", "0.8", "9.9", "1.0.0", "1", "x".repeat(200), "1.0, 1.0"]) {
          const res = await get({ ...bearer(user.token), "X-Version": version });
          const body = await expectProblem(res, 426);
          assertEquals(body.detail, VERSION_NOT_SUPPORTED);
          assertEquals(body.code, "version_not_supported");
          assertEquals(body.latest_version, "1.0");
          assertEquals(body.supported_versions, ["1.0"]);
        }
      });
      await s.step("426 comes before authentication and before the body is read", async () => {
        await expectProblem(await get({ "X-Version": "0.1" }), 426);
        const res = await t.request("POST", "/items", {
          body: "{not json",
          headers: { "X-Version": "0.1", "Content-Type": "application/json" },
        });
        await expectProblem(res, 426);
        const login = await t.request("POST", "/auth/token", {
          json: { username: user.username, password: user.password },
          headers: { "X-Version": "0.2" },
        });
        await expectProblem(login, 426);
      });
      await s.step("a deprecated version gets Deprecation as an RFC 9745 date", async () => {
        const deprecatedAt = t.clock.now();
        await patchVersion(t, admin, 9, { deprecated: true });
        t.clock.advance(86_400_000);
        const res = await get({ ...bearer(user.token), "X-Version": "1.0" });
        assertEquals(res.status, 200);
        assertEquals(
          res.headers.get("deprecation"),
          `@${Math.floor(deprecatedAt.getTime() / 1000)}`,
        );
        assertEquals(res.headers.get("sunset"), null, "no sunset date was set");
        await res.body?.cancel();
      });
      await s.step(
        "a sunset date adds Sunset as an RFC 8594 HTTP-date, on errors too",
        async () => {
          const sunset = new Date(t.clock.now().getTime() + 30 * 86_400_000);
          sunset.setUTCMilliseconds(0);
          await patchVersion(t, admin, 9, { sunset_at: sunset.toISOString() });
          for (const headers of [bearer(user.token), {}]) {
            const res = await get({ ...headers, "X-Version": "1.0" });
            const value = res.headers.get("sunset") ?? "";
            assert(
              /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/.test(value),
              value,
            );
            assertEquals(Date.parse(value), sunset.getTime());
            assert(/^@\d+$/.test(res.headers.get("deprecation") ?? ""));
            await res.body?.cancel();
          }
        },
      );
      await s.step("past its sunset a version gets 426 and is no longer the latest", async () => {
        const res = await t.request("POST", "/versions", {
          json: { version: "1.1" },
          headers: bearer(admin),
        });
        assertEquals(res.status, 201);
        await res.body?.cancel();
        t.clock.advance(31 * 86_400_000);
        const refused = await expectProblem(
          await get({ ...bearer(user.token), "X-Version": "1.0" }),
          426,
        );
        assertEquals(refused.latest_version, "1.1");
        const stillListed = await (await t.request("GET", "/versions")).json() as Array<
          { version: string; supported: boolean }
        >;
        assertEquals(stillListed.find((v) => v.version === "1.0")?.supported, true);
        await t.deps.versions.refresh();
        const after = await expectProblem(
          await get({ ...bearer(user.token), "X-Version": "1.0" }),
          426,
        );
        assertEquals(after.supported_versions, ["1.1"]);
      });
      await s.step("the access log records the client's version", async () => {
        const logs = await captureLogs();
        const res = await get({ ...bearer(user.token), "X-Version": "1.1" });
        await res.body?.cancel();
        const access = logs.find((r) => r.category.join(".") === "items-api.http");
        assertEquals(access?.properties.version, "1.1");
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] the gate never applies to versions, health, docs, static or /`, async () => {
    const t = await createTestApp(dialect);
    try {
      for (const path of [...EXEMPT_PATHS, "/openapi.json", "/docs", "/docs/swagger"]) {
        for (const version of ["0.1", "nonsense"]) {
          const res = await t.request("GET", path, { headers: { "X-Version": version } });
          await res.body?.cancel();
          assert(res.status !== 426, `${path} answered 426 for ${version}`);
        }
      }
      for (const path of EXEMPT_PATHS) {
        const res = await t.request("GET", path, { headers: { "X-Version": "0.1" } });
        await res.body?.cancel();
        assert([200, 302].includes(res.status), `${path}: ${res.status}`);
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(
    `[${dialect}] every documented API route is gated unless it is on the exempt list`,
    async () => {
      const t = await createTestApp(dialect);
      try {
        const doc = t.app.getOpenAPI31Document({
          openapi: "3.1.0",
          info: { title: "gate coverage", version: "1" },
        });
        const paths = Object.entries(doc.paths ?? {});
        assert(paths.some(([path]) => path.startsWith("/items")), "the items routes are mounted");
        let gated = 0;
        for (const [path, item] of paths) {
          for (const method of ["get", "post", "patch", "put", "delete"] as const) {
            if (!(item as Record<string, unknown>)[method]) continue;
            const url = path.replace(/\{[^}]+\}/g, "1");
            const res = await t.request(method.toUpperCase(), url, {
              headers: { "X-Version": "0.1" },
            });
            await res.body?.cancel();
            const exempt = EXEMPT_DOCUMENTED.has(path);
            assertEquals(res.status === 426, !exempt, `${method.toUpperCase()} ${path}`);
            if (!exempt) gated++;
          }
        }
        assert(gated >= 5, `only ${gated} gated operations found`);
        assert(VERSIONED_PATH_PREFIXES.includes("/items"));
      } finally {
        await t.close();
      }
    },
  );

  Deno.test(
    `[${dialect}] checks run in order on PATCH /items/{item_id}: 426, 401, 403, 400/415, 422, 404, 409`,
    async () => {
      const t = await createTestApp(dialect);
      try {
        const owner = await createUser(t);
        const other = await createUser(t);
        const create = async (name: string) => {
          const res = await t.request("POST", "/items", {
            json: { name },
            headers: bearer(owner.token),
          });
          return (await res.json() as { id: number }).id;
        };
        const alpha = await create("Alpha");
        await create("Beta");
        const missing = 999_999;
        const patch = (
          id: number,
          headers: Record<string, string>,
          body: string,
          type = "application/json",
        ) =>
          t.request("PATCH", `/items/${id}`, {
            body,
            headers: { "Content-Type": type, ...headers },
          });
        const invalid = JSON.stringify({ name: "" });
        const conflicting = JSON.stringify({ name: "Beta" });

        // Each request keeps every fault that comes later in the order.
        await expectProblem(
          await patch(alpha, { ...bearer(other.token), "X-Version": "0.1" }, "{", "text/plain"),
          426,
        );
        await expectProblem(await patch(alpha, {}, "{", "text/plain"), 401);
        await expectProblem(await patch(alpha, bearer("not-a-token"), invalid), 401);
        await expectProblem(await patch(alpha, bearer(other.token), "{", "text/plain"), 403);
        await expectProblem(await patch(missing, bearer(owner.token), "{", "text/plain"), 415);
        await expectProblem(await patch(missing, bearer(owner.token), "{"), 400);
        await expectProblem(await patch(missing, bearer(owner.token), invalid), 422);
        const notFound = await expectProblem(
          await patch(missing, bearer(owner.token), conflicting),
          404,
        );
        assertEquals(notFound.detail, "Item not found");
        await expectProblem(await patch(alpha, bearer(owner.token), conflicting), 409);
        const ok = await patch(alpha, bearer(owner.token), JSON.stringify({ name: "Gamma" }));
        assertEquals(ok.status, 200);
        await ok.body?.cancel();
      } finally {
        await t.close();
      }
    },
  );

  Deno.test(`[${dialect}] the gate runs no database query per request`, async () => {
    const real = await createTestDatabase(dialect);
    const counted = countingDatabase(real.db);
    const database: TestDatabase = { ...real, db: counted.db, open: () => counted.db };
    const t = await createTestApp(dialect, { database });
    try {
      const user = await createUser(t);
      const admin = (await loginAdmin(t)).access_token;
      const created = await t.request("POST", "/items", {
        json: { name: "Probe" },
        headers: bearer(user.token),
      });
      const { id } = await created.json() as { id: number };
      await t.request("POST", "/versions", {
        json: { version: "0.9", deprecated: true, sunset_at: "2099-01-01T00:00:00Z" },
        headers: bearer(admin),
      }).then((r) => r.body?.cancel());

      const N = 50;
      const callsFor = async (headers: Record<string, string>, expected: number) => {
        const before = counted.calls();
        for (let i = 0; i < N; i++) {
          const res = await t.request("GET", `/items/${id}`, { headers });
          assertEquals(res.status, expected);
          await res.body?.cancel();
        }
        return (counted.calls() - before) / N;
      };
      const auth = bearer(user.token);
      const withoutHeader = await callsFor(auth, 200);
      const supported = await callsFor({ ...auth, "X-Version": "1.0" }, 200);
      const deprecated = await callsFor({ ...auth, "X-Version": "0.9" }, 200);
      const refused = await callsFor({ ...auth, "X-Version": "0.1" }, 426);
      console.log(
        `[${dialect}] DB calls per GET /items/{id}: no X-Version ${withoutHeader}, ` +
          `supported ${supported}, deprecated ${deprecated}, refused (426) ${refused}`,
      );
      assert(withoutHeader > 0, "the counter sees the route's own queries");
      assertEquals(supported, withoutHeader, "a supported version adds no query");
      assertEquals(deprecated, withoutHeader, "a deprecated version adds no query");
      assertEquals(refused, 0, "a refused request never reaches the database");
    } finally {
      await t.close();
      await real.drop();
    }
  });
}

Deno.test("versionGate() calls onReject once per refused request, and only then", async () => {
  const db = await createTestDatabase("sqlite");
  try {
    const { migrate } = await import("@/db/migrate.ts");
    await migrate(db.db);
    const clock = new ManualClock();
    const versions = new VersionsCache({
      load: () => loadVersions(db.db),
      refreshMs: 60_000,
      clock,
    });
    await versions.refresh();
    const rejected: string[] = [];
    const app = createRouter();
    app.use(versionGate({
      paths: ["/api"],
      versions,
      clock,
      onReject: (version) => rejected.push(version),
    }));
    app.get("/api/x", (c) => c.text("ok"));
    app.get("/other", (c) => c.text("ok"));
    app.onError((error, c) => c.text(error.message, 426));
    for (
      const [path, version, status] of [
        ["/api/x", "1.0", 200],
        ["/api/x", "0.3", 426],
        ["/api/x", "", 200],
        ["/other", "0.4", 200],
        ["/apix", "0.5", 404],
      ] as const
    ) {
      const res = await app.request(path, { headers: { "X-Version": version } });
      await res.body?.cancel();
      assertEquals(res.status, status, `${path} ${version}`);
    }
    assertEquals(rejected, ["0.3"]);
  } finally {
    await db.drop();
  }
});
