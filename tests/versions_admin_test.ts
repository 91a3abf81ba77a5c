import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";

interface Version {
  id: number;
  version: string;
  supported: boolean;
  deprecated: boolean;
  deprecated_at: string | null;
  sunset_at: string | null;
}

async function listVersions(t: TestApp): Promise<Version[]> {
  const res = await t.request("GET", "/versions");
  assertEquals(res.status, 200);
  return await res.json() as Version[];
}

/** Status of an authenticated API request made with `X-Version: version`. */
async function gateStatus(t: TestApp, token: string, version: string): Promise<number> {
  const res = await t.request("GET", "/items?limit=1", {
    headers: { ...bearer(token), "X-Version": version },
  });
  await res.body?.cancel();
  return res.status;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] GET /versions is public, ungated and lists the seeded table`, async () => {
    const t = await createTestApp(dialect);
    try {
      const variants: Array<Record<string, string>> = [{}, { "X-Version": "0.1" }, {
        "X-Version": "nonsense",
      }];
      for (const headers of variants) {
        const res = await t.request("GET", "/versions", { headers });
        assertEquals(res.status, 200);
        assert(res.headers.get("content-type")?.startsWith("application/json"));
        assertEquals(res.headers.get("deprecation"), null);
        const versions = await res.json() as Version[];
        assertEquals(versions.length, 9);
        assertEquals(versions[0], {
          id: 1,
          version: "0.1",
          supported: false,
          deprecated: false,
          deprecated_at: null,
          sunset_at: null,
        });
        assertEquals(versions.filter((v) => v.supported).map((v) => v.version), ["1.0"]);
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] POST /versions registers a client version (admin only)`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const user = await createUser(t);
      const admin = (await loginAdmin(t)).access_token;
      const post = (json: unknown, token?: string) =>
        t.request("POST", "/versions", { json, headers: token ? bearer(token) : {} });
      await s.step("401 anonymous, 403 for a user", async () => {
        await expectProblem(await post({ version: "2.0" }), 401);
        await expectProblem(await post({ version: "2.0" }, user.token), 403);
        assertEquals((await listVersions(t)).length, 9);
      });
      await s.step("201 with defaults: supported, not deprecated, no sunset", async () => {
        const res = await post({ version: "2.0" }, admin);
        assertEquals(res.status, 201);
        const created = await res.json() as Version;
        assertEquals(created, {
          id: created.id,
          version: "2.0",
          supported: true,
          deprecated: false,
          deprecated_at: null,
          sunset_at: null,
        });
        assertEquals((await listVersions(t)).at(-1), created, "listed at once");
      });
      await s.step("201 deprecated: dated now, with a sunset in UTC", async () => {
        const res = await post({
          version: "1.5-beta",
          deprecated: true,
          sunset_at: "2030-01-01T02:00:00+02:00",
        }, admin);
        assertEquals(res.status, 201);
        const created = await res.json() as Version;
        assertEquals(created.deprecated_at, t.clock.now().toISOString());
        assertEquals(created.sunset_at, "2030-01-01T00:00:00.000Z");
        const listed = (await listVersions(t)).find((v) => v.id === created.id);
        assertEquals(listed, created);
      });
      await s.step("the new version passes the gate at once", async () => {
        assertEquals(await gateStatus(t, user.token, "2.0"), 200);
        assertEquals(await gateStatus(t, user.token, "1.5-beta"), 200);
      });
      await s.step("409 for a version string that exists", async () => {
        const body = await expectProblem(await post({ version: "1.0" }, admin), 409);
        assertEquals(body.detail, 'Version "1.0" already exists');
      });
      await s.step("422 for malformed versions, dates and unknown fields", async () => {
        for (
          const json of [
            {},
            { version: "" },
            { version: " 1.0" },
            { version: "x".repeat(33) },
            { version: "1.0;DROP" },
            { version: "3.0", supported: "yes" },
            { version: "3.0", sunset_at: "tomorrow" },
            { version: "3.0", sunset_at: "2030-01-01T00:00:00" },
            { version: "3.0", sunset_at: "1960-01-01T00:00:00Z" },
            { version: "3.0", id: 99 },
          ]
        ) {
          await expectProblem(await post(json, admin), 422);
        }
        assertEquals((await listVersions(t)).length, 11);
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] PATCH /versions/{version_id} retires, deprecates and renames`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const user = await createUser(t);
      const admin = (await loginAdmin(t)).access_token;
      const patch = (id: number | string, json: unknown, token?: string) =>
        t.request("PATCH", `/versions/${id}`, { json, headers: token ? bearer(token) : {} });
      const created = await (await t.request("POST", "/versions", {
        json: { version: "1.1" },
        headers: bearer(admin),
      })).json() as Version;
      await s.step("401 anonymous, 403 for a user, and nothing changes", async () => {
        await expectProblem(await patch(created.id, { supported: false }), 401);
        await expectProblem(await patch(created.id, { supported: false }, user.token), 403);
        assertEquals(await gateStatus(t, user.token, "1.1"), 200);
      });
      await s.step("deprecating dates it now; the date survives other changes", async () => {
        const deprecatedAt = t.clock.now().toISOString();
        const res = await patch(created.id, { deprecated: true }, admin);
        assertEquals(res.status, 200);
        const changed = await res.json() as Version;
        assertEquals([changed.deprecated, changed.deprecated_at], [true, deprecatedAt]);
        t.clock.advance(3_600_000);
        const later = await (await patch(created.id, { sunset_at: "2031-05-01T00:00:00Z" }, admin))
          .json() as Version;
        assertEquals(later.deprecated_at, deprecatedAt);
        assertEquals(later.sunset_at, "2031-05-01T00:00:00.000Z");
      });
      await s.step(
        "un-deprecating clears the date; sunset_at: null clears the sunset",
        async () => {
          const res = await patch(created.id, { deprecated: false, sunset_at: null }, admin);
          const changed = await res.json() as Version;
          assertEquals([changed.deprecated, changed.deprecated_at, changed.sunset_at], [
            false,
            null,
            null,
          ]);
        },
      );
      await s.step("supported: false retires the client at once on this instance", async () => {
        assertEquals(await gateStatus(t, user.token, "1.1"), 200);
        const res = await patch(created.id, { supported: false }, admin);
        assertEquals(res.status, 200);
        assertEquals((await res.json() as Version).supported, false);
        assertEquals(await gateStatus(t, user.token, "1.1"), 426);
        await patch(created.id, { supported: true }, admin);
        assertEquals(await gateStatus(t, user.token, "1.1"), 200);
      });
      await s.step("an empty patch changes nothing", async () => {
        const before = (await listVersions(t)).find((v) => v.id === created.id);
        const res = await patch(created.id, {}, admin);
        assertEquals(await res.json(), before);
      });
      await s.step("renaming moves the gate to the new string", async () => {
        const res = await patch(created.id, { version: "1.1.1" }, admin);
        assertEquals((await res.json() as Version).version, "1.1.1");
        assertEquals(await gateStatus(t, user.token, "1.1"), 426);
        assertEquals(await gateStatus(t, user.token, "1.1.1"), 200);
      });
      await s.step("409 when renaming to an existing version string", async () => {
        await expectProblem(await patch(created.id, { version: "1.0" }, admin), 409);
        assertEquals(await gateStatus(t, user.token, "1.1.1"), 200);
      });
      await s.step("404 for a missing version, 422 for bad ids and bodies", async () => {
        const body = await expectProblem(await patch(999999, { supported: false }, admin), 404);
        assertEquals(body.detail, "Version not found");
        await expectProblem(await patch("abc", { supported: false }, admin), 422);
        await expectProblem(await patch(0, { supported: false }, admin), 422);
        await expectProblem(await patch(created.id, { supported: "no" }, admin), 422);
        await expectProblem(await patch(created.id, { id: 1 }, admin), 422);
        await expectProblem(await patch(created.id, { version: "" }, admin), 422);
      });
      await s.step("what the table holds is what GET /versions lists", async () => {
        const fresh = await t.deps.versions.refresh();
        const listed = await listVersions(t);
        assertEquals(listed.length, fresh.versions.length);
        assertEquals(listed.find((v) => v.id === created.id)?.version, "1.1.1");
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(
    `[${dialect}] a version retired on one instance is refused by another within the refresh interval`,
    async () => {
      const env = { VERSION_REFRESH_INTERVAL: "50ms" };
      const first = await createTestApp(dialect, { file: true, env });
      const second = await createTestApp(dialect, { database: first.database, env });
      try {
        await second.deps.versions.start();
        const admin = (await loginAdmin(first)).access_token;
        const user = await createUser(first);

        /** Poll the second instance until `version` answers `status`, for at most 10 s. */
        const eventually = async (version: string, status: number) => {
          const deadline = Date.now() + 10_000;
          let last = 0;
          while (Date.now() < deadline) {
            last = await gateStatus(second, user.token, version);
            if (last === status) return;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          throw new Error(
            `The second instance still answers ${last} for ${version}, not ${status}`,
          );
        };

        const res = await first.request("POST", "/versions", {
          json: { version: "3.0" },
          headers: bearer(admin),
        });
        const created = await res.json() as Version;
        assertEquals(await gateStatus(first, user.token, "3.0"), 200);
        await eventually("3.0", 200);

        await first.request("PATCH", `/versions/${created.id}`, {
          json: { supported: false },
          headers: bearer(admin),
        }).then((r) => r.body?.cancel());
        assertEquals(await gateStatus(first, user.token, "3.0"), 426, "at once on the first");
        await eventually("3.0", 426);

        await first.request("PATCH", "/versions/9", {
          json: { deprecated: true },
          headers: bearer(admin),
        }).then((r) => r.body?.cancel());
        const deadline = Date.now() + 10_000;
        let deprecation: string | null = null;
        while (deprecation === null && Date.now() < deadline) {
          const probe = await second.request("GET", "/items?limit=1", {
            headers: { ...bearer(user.token), "X-Version": "1.0" },
          });
          await probe.body?.cancel();
          deprecation = probe.headers.get("deprecation");
          if (deprecation === null) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assertEquals(
          deprecation,
          `@${Math.floor(first.clock.now().getTime() / 1000)}`,
          "the second instance marks the deprecation with the first's date",
        );
      } finally {
        await second.close();
        await first.close();
      }
    },
  );
}
