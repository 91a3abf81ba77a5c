import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin, type TestUser } from "./helpers/auth.ts";
import { clientOf, expectJson } from "./helpers/client.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { invalidIdMessage } from "@/http/ids.ts";

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function createItem(
  t: TestApp,
  token: string,
  json: { name: string; description?: string | null },
) {
  return await expectJson(await clientOf(t, token).items.$post({ json }), 201);
}

/** `GET /items/{item_id}` through the typed client. */
function readItem(t: TestApp, id: number | string, token?: string) {
  return clientOf(t, token).items[":item_id"].$get({ param: { item_id: String(id) } });
}

/** An app with an owner, another user and an admin, and one item of the owner's. */
async function setup(dialect: "sqlite" | "mysql") {
  const t = await createTestApp(dialect);
  const owner = await createUser(t);
  const other = await createUser(t);
  const admin: Pick<TestUser, "token"> = { token: (await loginAdmin(t)).access_token };
  const item = await createItem(t, owner.token, { name: "Notebook", description: "A5, dotted" });
  return { t, owner, other, admin, item };
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] POST /items answers every status it declares`, async (s) => {
    const { t, owner, other, admin } = await setup(dialect);
    try {
      await s.step("401 with WWW-Authenticate for an anonymous caller", async () => {
        const res = await clientOf(t).items.$post({ json: { name: "x" } });
        assertEquals(res.headers.get("www-authenticate")?.startsWith("Bearer"), true);
        await expectProblem(res, 401);
      });
      await s.step("201 with Location and the item, owned by the caller", async () => {
        const res = await clientOf(t, owner.token).items.$post({
          json: { name: "Pen", description: "Blue ink" },
        });
        assert(res.headers.get("content-type")?.startsWith("application/json"));
        const item = await expectJson(res, 201);
        assertEquals(res.headers.get("location"), `/items/${item.id}`);
        assertEquals(item.name, "Pen");
        assertEquals(item.description, "Blue ink");
        assertEquals(item.user_id, owner.id);
        assert(ISO_UTC.test(item.created_at), item.created_at);
        assertEquals(item.updated_at, item.created_at);
        assertEquals(item.created_at, t.clock.now().toISOString());
        const read = await expectJson(await readItem(t, item.id, owner.token), 200);
        assertEquals(read, item, "what was returned is what is stored");
      });
      await s.step("an omitted description is null", async () => {
        const item = await createItem(t, owner.token, { name: "No description" });
        assertEquals(item.description, null);
      });
      await s.step("an admin creates items owned by the admin", async () => {
        const item = await createItem(t, admin.token, { name: "Admin's" });
        assert(item.user_id !== owner.id && item.user_id !== other.id);
      });
      await s.step("409 for a name the owner already uses", async () => {
        const res = await clientOf(t, owner.token).items.$post({ json: { name: "Notebook" } });
        const body = await expectProblem(res, 409);
        assertEquals(body.code, "conflict");
        assertEquals(body.detail, 'An item named "Notebook" already exists for this owner');
      });
      await s.step("the same name for another owner, or in another case, is fine", async () => {
        await createItem(t, other.token, { name: "Notebook" });
        await createItem(t, owner.token, { name: "notebook" });
      });
      await s.step("names and descriptions at their limits, counted in characters", async () => {
        await createItem(t, owner.token, {
          name: "n".repeat(255),
          description: "d".repeat(10_000),
        });
        const emoji = await createItem(t, owner.token, {
          name: "😀".repeat(255),
          description: "😀".repeat(10_000),
        });
        assertEquals([...emoji.name].length, 255);
      });
      await s.step("422 for invalid or unknown fields", async () => {
        const cases: Array<[unknown, string]> = [
          [{}, "body.name"],
          [{ name: "" }, "body.name"],
          [{ name: "   " }, "body.name"],
          [{ name: "n".repeat(256) }, "body.name"],
          [{ name: "😀".repeat(256) }, "body.name"],
          [{ name: 42 }, "body.name"],
          [{ name: "ok", description: "d".repeat(10_001) }, "body.description"],
          [{ name: "ok", description: 5 }, "body.description"],
          [{ name: "\ud800 lone surrogate" }, "body.name"],
          [{ name: "nul\u0000byte" }, "body.name"],
          [{ name: "ok", description: "nul\u0000byte" }, "body.description"],
          [{ name: "ok", user_id: other.id }, "body"],
          [[{ name: "ok" }], "body"],
        ];
        for (const [json, path] of cases) {
          const res = await t.request("POST", "/items", { json, headers: bearer(owner.token) });
          const body = await expectProblem(res, 422);
          const errors = body.errors as Array<{ path: string }>;
          assert(errors.some((e) => e.path.startsWith(path)), JSON.stringify([json, errors]));
        }
      });
      await s.step(
        "400 for malformed JSON, 415 for another media type, 413 when too big",
        async () => {
          await expectProblem(
            await t.request("POST", "/items", {
              body: '{"name": ',
              headers: { ...bearer(owner.token), "Content-Type": "application/json" },
            }),
            400,
          );
          await expectProblem(
            await t.request("POST", "/items", {
              body: "name=x",
              headers: {
                ...bearer(owner.token),
                "Content-Type": "application/x-www-form-urlencoded",
              },
            }),
            415,
          );
          const big = await clientOf(t, owner.token).items.$post({
            json: { name: "big", description: "x".repeat(2_000_000) },
          });
          assertEquals(typeof (await expectJson(big, 413)).limit_bytes, "number");
        },
      );
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] GET /items/{item_id} lets any user read any item`, async (s) => {
    const { t, owner, other, admin, item } = await setup(dialect);
    try {
      await s.step("401 for an anonymous caller", async () => {
        await expectProblem(await readItem(t, item.id), 401);
      });
      await s.step("200 for the owner, another user and an admin", async () => {
        for (const token of [owner.token, other.token, admin.token]) {
          assertEquals(await expectJson(await readItem(t, item.id, token), 200), item);
        }
      });
      await s.step("404 'Item not found' for a missing item", async () => {
        const res = await readItem(t, 999999, other.token);
        assertEquals((await expectJson(res, 404)).detail, "Item not found");
      });
      await s.step("422 for an id that is not a positive integer", async () => {
        for (const id of ["abc", "0", "-1", "1e3", "0x10", "1.5", "99999999999", "4294967296"]) {
          const body = await expectProblem(await readItem(t, id, owner.token), 422);
          assertEquals(body.errors, [{
            path: "path.item_id",
            message: invalidIdMessage(),
          }]);
        }
      });
      await s.step(
        "the largest id the document allows is looked up (404), not refused",
        async () => {
          await expectProblem(await readItem(t, 4_294_967_295, owner.token), 404);
        },
      );
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] PATCH /items/{item_id} is for the owner or an admin`, async (s) => {
    const { t, owner, other, admin, item } = await setup(dialect);
    const patch = (
      id: number | string,
      json: { name?: string; description?: string | null },
      token?: string,
    ) => clientOf(t, token).items[":item_id"].$patch({ param: { item_id: String(id) }, json });
    /** For bodies the types rule out. */
    const patchRaw = (id: number | string, json: unknown, token: string) =>
      t.request("PATCH", `/items/${id}`, { json, headers: bearer(token) });
    try {
      await s.step("401 for an anonymous caller", async () => {
        await expectProblem(await patch(item.id, { name: "x" }), 401);
      });
      await s.step("403 for another user, and nothing changes", async () => {
        await expectProblem(await patch(item.id, { name: "Taken over" }, other.token), 403);
        const read = await readItem(t, item.id, owner.token);
        assertEquals((await expectJson(read, 200)).name, "Notebook");
      });
      await s.step("200 for the owner: renames and moves updated_at only", async () => {
        t.clock.advance(60_000);
        const res = await patch(item.id, { name: "Notebook v2" }, owner.token);
        const changed = await expectJson(res, 200);
        assertEquals(changed.name, "Notebook v2");
        assertEquals(changed.description, "A5, dotted", "an absent field stays as it was");
        assertEquals(changed.created_at, item.created_at);
        assertEquals(changed.updated_at, t.clock.now().toISOString());
        assert(ISO_UTC.test(changed.updated_at));
      });
      await s.step("the item's own name is not a conflict", async () => {
        const res = await patch(item.id, { name: "Notebook v2", description: "same" }, owner.token);
        assertEquals((await expectJson(res, 200)).description, "same");
      });
      await s.step("description: null clears it", async () => {
        const res = await patch(item.id, { description: null }, owner.token);
        const changed = await expectJson(res, 200);
        assertEquals(changed.description, null);
        assertEquals(changed.name, "Notebook v2");
      });
      await s.step("an empty patch changes nothing", async () => {
        const before = await expectJson(await readItem(t, item.id, owner.token), 200);
        t.clock.advance(1_000);
        const res = await patch(item.id, {}, owner.token);
        assertEquals(await expectJson(res, 200), before);
      });
      await s.step("200 for an admin on someone else's item; the owner stays", async () => {
        const res = await patch(item.id, { name: "Renamed by admin" }, admin.token);
        assertEquals((await expectJson(res, 200)).user_id, owner.id);
      });
      await s.step(
        "409 for the name of another of the owner's items, by owner or admin",
        async () => {
          await createItem(t, owner.token, { name: "Pencil" });
          const body = await expectProblem(
            await patch(item.id, { name: "Pencil" }, owner.token),
            409,
          );
          assertEquals(body.code, "conflict");
          await expectProblem(await patch(item.id, { name: "Pencil" }, admin.token), 409);
        },
      );
      await s.step("another owner's name is not a conflict", async () => {
        await createItem(t, other.token, { name: "Other's name" });
        assertEquals((await patch(item.id, { name: "Other's name" }, owner.token)).status, 200);
      });
      await s.step("404 for a missing item, for users and admins", async () => {
        for (const token of [owner.token, admin.token]) {
          const body = await expectProblem(await patch(999999, { name: "x" }, token), 404);
          assertEquals(body.detail, "Item not found");
        }
      });
      await s.step("422 for invalid fields, unknown fields or a bad id", async () => {
        for (
          const json of [
            { name: "" },
            { name: "n".repeat(256) },
            { name: null },
            { description: "d".repeat(10_001) },
            { user_id: other.id },
            { id: 5 },
          ]
        ) {
          await expectProblem(await patchRaw(item.id, json, owner.token), 422);
        }
        await expectProblem(await patch("abc", { name: "x" }, owner.token), 422);
        await expectProblem(await patch(0, { name: "x" }, owner.token), 422);
      });
      await s.step(
        "400 for malformed JSON and 415 (with Accept-Patch) for another media type",
        async () => {
          const headers = { ...bearer(owner.token), "Content-Type": "application/json" };
          await expectProblem(
            await t.request("PATCH", `/items/${item.id}`, { body: "{", headers }),
            400,
          );
          const res = await t.request("PATCH", `/items/${item.id}`, {
            body: "name",
            headers: { ...bearer(owner.token), "Content-Type": "text/plain" },
          });
          assertEquals(res.headers.get("accept-patch"), "application/json");
          assertEquals(res.headers.get("accept-post"), null);
          await expectProblem(res, 415);
        },
      );
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] DELETE /items/{item_id} is for the owner or an admin`, async (s) => {
    const { t, owner, other, admin, item } = await setup(dialect);
    const del = (id: number | string, token?: string) =>
      clientOf(t, token).items[":item_id"].$delete({ param: { item_id: String(id) } });
    try {
      await s.step("401 for an anonymous caller", async () => {
        await expectProblem(await del(item.id), 401);
      });
      await s.step("403 for another user, and the item stays", async () => {
        await expectProblem(await del(item.id, other.token), 403);
        await expectJson(await readItem(t, item.id, owner.token), 200);
      });
      await s.step("204 for the owner; then it is gone (404)", async () => {
        const res = await del(item.id, owner.token);
        assertEquals(res.status, 204);
        assertEquals(await res.text(), "");
        await expectProblem(await readItem(t, item.id, owner.token), 404);
        await expectProblem(await del(item.id, owner.token), 404);
      });
      await s.step("204 for an admin on someone else's item", async () => {
        const another = await createItem(t, other.token, { name: "Mug" });
        assertEquals((await del(another.id, admin.token)).status, 204);
        await expectProblem(await del(another.id, admin.token), 404);
      });
      await s.step("the name is free again after a delete", async () => {
        await createItem(t, owner.token, { name: "Notebook" });
      });
      await s.step("422 for a bad id", async () => {
        await expectProblem(await del("abc", owner.token), 422);
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] six concurrent creates of one name give one 201 and five 409`, async () => {
    const t = await createTestApp(dialect);
    try {
      const owner = await createUser(t);
      for (let round = 0; round < 3; round++) {
        const responses = await Promise.all(
          Array.from(
            { length: 6 },
            () => clientOf(t, owner.token).items.$post({ json: { name: `Race ${round}` } }),
          ),
        );
        const statuses = responses.map((r) => r.status).sort();
        assertEquals(statuses, [201, 409, 409, 409, 409, 409]);
        for (const res of responses) {
          if (res.status === 409) await expectProblem(res, 409);
          else await res.body?.cancel();
        }
      }
      const list = await clientOf(t, owner.token).items.$get({
        query: { user_id: String(owner.id) },
      });
      assertEquals((await expectJson(list, 200)).total, 3);
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] two concurrent renames to one name give one 200 and one 409`, async () => {
    const t = await createTestApp(dialect);
    try {
      const owner = await createUser(t);
      const a = await createItem(t, owner.token, { name: "A" });
      const b = await createItem(t, owner.token, { name: "B" });
      const responses = await Promise.all(
        [a, b].map((item) =>
          clientOf(t, owner.token).items[":item_id"].$patch({
            param: { item_id: String(item.id) },
            json: { name: "Same" },
          })
        ),
      );
      assertEquals(responses.map((r) => r.status).sort(), [200, 409]);
      for (const res of responses) await res.body?.cancel();
    } finally {
      await t.close();
    }
  });
}
