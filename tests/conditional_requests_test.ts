/**
 * Conditional requests (RFC 9110 section 13) on items, users and versions: a strong `ETag` on
 * every read, 304 for a matching `If-None-Match`, 412 with nothing changed for a stale
 * `If-Match`, and 428 for a write without one when REQUIRE_IF_MATCH is set.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";

async function json(res: Response, status: number): Promise<Record<string, unknown>> {
  const text = await res.text();
  assertEquals(res.status, status, text);
  return JSON.parse(text);
}

async function newItem(t: TestApp, token: string, name: string) {
  const res = await t.request("POST", "/items", { headers: bearer(token), json: { name } });
  const etag = res.headers.get("etag");
  return { item: await json(res, 201), etag: etag! };
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] items carry ETags and honour If-None-Match and If-Match`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const owner = await createUser(t);
      const auth = bearer(owner.token);
      const { item, etag } = await newItem(t, owner.token, "Notebook");

      await s.step("a create and a read carry the same strong ETag", async () => {
        assert(/^"[0-9a-f]{16}"$/.test(etag), etag);
        const res = await t.request("GET", `/items/${item.id}`, { headers: auth });
        assertEquals(res.headers.get("etag"), etag);
        assertEquals(await json(res, 200), item);
      });

      await s.step("If-None-Match naming it answers 304 without a body", async () => {
        for (const header of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
          const res = await t.request("GET", `/items/${item.id}`, {
            headers: { ...auth, "If-None-Match": header },
          });
          assertEquals(res.status, 304, header);
          assertEquals(res.headers.get("etag"), etag);
          assertEquals(await res.text(), "");
        }
        const stale = await t.request("GET", `/items/${item.id}`, {
          headers: { ...auth, "If-None-Match": '"stale"' },
        });
        await json(stale, 200);
      });

      await s.step("a stale If-Match is 412 and changes nothing", async () => {
        const patch = await t.request("PATCH", `/items/${item.id}`, {
          headers: { ...auth, "If-Match": '"stale"' },
          json: { name: "Renamed" },
        });
        const problem = await expectProblem(patch, 412);
        assertEquals(problem.code, "precondition_failed");
        const del = await t.request("DELETE", `/items/${item.id}`, {
          headers: { ...auth, "If-Match": '"stale"' },
        });
        await expectProblem(del, 412);
        const read = await t.request("GET", `/items/${item.id}`, { headers: auth });
        assertEquals(await json(read, 200), item);
      });

      await s.step("a weak tag never matches If-Match (strong comparison)", async () => {
        const patch = await t.request("PATCH", `/items/${item.id}`, {
          headers: { ...auth, "If-Match": `W/${etag}` },
          json: { name: "Renamed" },
        });
        await expectProblem(patch, 412);
      });

      let current = etag;
      await s.step("the current If-Match changes it and answers the new ETag", async () => {
        t.clock.advance(1000);
        const patch = await t.request("PATCH", `/items/${item.id}`, {
          headers: { ...auth, "If-Match": etag },
          json: { name: "Renamed" },
        });
        const changed = await json(patch, 200);
        assertEquals(changed.name, "Renamed");
        current = patch.headers.get("etag")!;
        assert(current !== etag, "a new representation has a new tag");
        const read = await t.request("GET", `/items/${item.id}`, { headers: auth });
        assertEquals(read.headers.get("etag"), current);
        // The old tag is stale now.
        const again = await t.request("PATCH", `/items/${item.id}`, {
          headers: { ...auth, "If-Match": etag },
          json: { name: "Again" },
        });
        await expectProblem(again, 412);
      });

      await s.step("If-Match on a missing item is 404", async () => {
        const res = await t.request("DELETE", "/items/999999", {
          headers: { ...auth, "If-Match": current },
        });
        await expectProblem(res, 404);
      });

      await s.step("the current If-Match deletes it", async () => {
        const del = await t.request("DELETE", `/items/${item.id}`, {
          headers: { ...auth, "If-Match": current },
        });
        assertEquals(del.status, 204);
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] two editors of one item: exactly one wins, the other gets 412`, async () => {
    const t = await createTestApp(dialect);
    try {
      const owner = await createUser(t);
      const admin = await loginAdmin(t);
      for (let round = 0; round < 5; round++) {
        const { item, etag } = await newItem(t, owner.token, `Contested ${round}`);
        const edit = (token: string, name: string) =>
          t.request("PATCH", `/items/${item.id}`, {
            headers: { ...bearer(token), "If-Match": etag },
            json: { name },
          });
        const answers = await Promise.all([
          edit(owner.token, `By owner ${round}`),
          edit(admin.access_token, `By admin ${round}`),
        ]);
        const statuses = answers.map((res) => res.status).sort();
        assertEquals(statuses, [200, 412], `round ${round}`);
        const winner = answers.find((res) => res.status === 200)!;
        const won = await json(winner, 200);
        for (const res of answers) if (res !== winner) await expectProblem(res, 412);
        const read = await t.request("GET", `/items/${item.id}`, { headers: bearer(owner.token) });
        assertEquals((await json(read, 200)).name, won.name);
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] REQUIRE_IF_MATCH answers 428 to a write without If-Match`, async () => {
    const t = await createTestApp(dialect, { env: { REQUIRE_IF_MATCH: "true" } });
    try {
      const owner = await createUser(t);
      const auth = bearer(owner.token);
      const { item, etag } = await newItem(t, owner.token, "Guarded");
      const patch = await t.request("PATCH", `/items/${item.id}`, {
        headers: auth,
        json: { name: "Unguarded" },
      });
      assertEquals((await expectProblem(patch, 428)).code, "precondition_required");
      await expectProblem(await t.request("DELETE", `/items/${item.id}`, { headers: auth }), 428);
      const guarded = await t.request("PATCH", `/items/${item.id}`, {
        headers: { ...auth, "If-Match": etag },
        json: { name: "Guarded too" },
      });
      await json(guarded, 200);
    } finally {
      await t.close();
    }
  });
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] users and versions carry ETags and honour If-Match`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const admin = bearer((await loginAdmin(t)).access_token);
      const user = await createUser(t);

      await s.step("a user read carries an ETag and answers 304 to it", async () => {
        const res = await t.request("GET", `/users/${user.id}`, { headers: admin });
        const etag = res.headers.get("etag")!;
        await json(res, 200);
        const again = await t.request("GET", `/users/${user.id}`, {
          headers: { ...admin, "If-None-Match": etag },
        });
        assertEquals(again.status, 304);
      });

      await s.step("a stale If-Match on a user is 412 and changes nothing", async () => {
        const before = await json(
          await t.request("GET", `/users/${user.id}`, { headers: admin }),
          200,
        );
        const patch = await t.request("PATCH", `/users/${user.id}`, {
          headers: { ...admin, "If-Match": '"stale"' },
          json: { username: "renamed-user" },
        });
        await expectProblem(patch, 412);
        const del = await t.request("DELETE", `/users/${user.id}`, {
          headers: { ...admin, "If-Match": '"stale"' },
        });
        await expectProblem(del, 412);
        const after = await t.request("GET", `/users/${user.id}`, { headers: admin });
        assertEquals(await json(after, 200), before);
      });

      await s.step("the current If-Match changes a user; the old tag is stale", async () => {
        const read = await t.request("GET", `/users/${user.id}`, { headers: admin });
        const etag = read.headers.get("etag")!;
        await read.body?.cancel();
        t.clock.advance(1000);
        const patch = await t.request("PATCH", `/users/${user.id}`, {
          headers: { ...admin, "If-Match": etag },
          json: { username: `${user.username}-2` },
        });
        await json(patch, 200);
        assert(patch.headers.get("etag") !== etag);
        const stale = await t.request("DELETE", `/users/${user.id}`, {
          headers: { ...admin, "If-Match": etag },
        });
        await expectProblem(stale, 412);
        const del = await t.request("DELETE", `/users/${user.id}`, {
          headers: { ...admin, "If-Match": patch.headers.get("etag")! },
        });
        assertEquals(del.status, 204);
      });

      await s.step("a version read carries an ETag; a stale If-Match is 412", async () => {
        const created = await t.request("POST", "/versions", {
          headers: admin,
          json: { version: "7.0", supported: true },
        });
        const version = await json(created, 201);
        const etag = created.headers.get("etag")!;
        const read = await t.request("GET", `/versions/${version.id}`);
        assertEquals(read.headers.get("etag"), etag);
        assertEquals(await json(read, 200), version);
        assertEquals(
          (await t.request("GET", `/versions/${version.id}`, {
            headers: { "If-None-Match": etag },
          })).status,
          304,
        );
        const stale = await t.request("PATCH", `/versions/${version.id}`, {
          headers: { ...admin, "If-Match": '"stale"' },
          json: { supported: false },
        });
        await expectProblem(stale, 412);
        const unchanged = await t.request("GET", `/versions/${version.id}`);
        assertEquals((await json(unchanged, 200)).supported, true);
        const retired = await t.request("PATCH", `/versions/${version.id}`, {
          headers: { ...admin, "If-Match": etag },
          json: { supported: false },
        });
        assertEquals((await json(retired, 200)).supported, false);
        await expectProblem(await t.request("GET", "/versions/999999"), 404);
      });
    } finally {
      await t.close();
    }
  });
}
