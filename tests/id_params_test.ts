/**
 * One rule for ids: every `{…_id}` path parameter (and the permission middleware in front of
 * some of them) answers the same 422 to look-alike ids, and nothing changes.
 */
import { assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { BIG_SERIAL_MAX, invalidIdMessage, parseId, SERIAL_MAX } from "@/http/ids.ts";

/** Spellings of "1" (or of no id) that are not a plain positive decimal integer. */
const LOOK_ALIKES = ["0x1", "1e0", "01", "+1", "%201", "1%20", "1.0", "-1", "0", "%E2%80%8B1"];

Deno.test("parseId accepts plain positive decimals within the column's range only", () => {
  assertEquals(parseId("1"), 1);
  assertEquals(parseId(String(SERIAL_MAX)), SERIAL_MAX);
  assertEquals(parseId(String(SERIAL_MAX + 1)), undefined);
  assertEquals(parseId(String(BIG_SERIAL_MAX), BIG_SERIAL_MAX), BIG_SERIAL_MAX);
  assertEquals(parseId("99999999999999999", BIG_SERIAL_MAX), undefined);
  for (const text of ["0x1", "1e0", "01", "+1", " 1", "1 ", "1.0", "-1", "0", "", "１"]) {
    assertEquals(parseId(text), undefined, JSON.stringify(text));
  }
});

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] every id route refuses look-alike ids with 422 and changes nothing`, async (t) => {
    const app = await createTestApp(dialect);
    try {
      const admin = await loginAdmin(app);
      const alice = await createUser(app);
      const item = await (await app.request("POST", "/items", {
        headers: bearer(alice.token),
        json: { name: "kept" },
      })).json();
      assertEquals(item.id, 1);
      const routes: Array<[string, (id: string) => string, unknown?]> = [
        ["GET", (id) => `/users/${id}`],
        ["PATCH", (id) => `/users/${id}`, { activated: false }],
        ["DELETE", (id) => `/users/${id}`],
        ["GET", (id) => `/roles/${id}`],
        ["GET", (id) => `/items/${id}`],
        ["PATCH", (id) => `/items/${id}`, { name: "changed" }],
        ["DELETE", (id) => `/items/${id}`],
        ["PATCH", (id) => `/versions/${id}`, { supported: false }],
        ["DELETE", (id) => `/auth/sessions/${id}`],
      ];
      const edges = [...LOOK_ALIKES, String(SERIAL_MAX + 1), "99999999999999999999"];
      for (const [method, path, json] of routes) {
        await t.step(`${method} ${path("{id}")}`, async () => {
          for (const id of edges) {
            // Sessions are BIGINT: only their own ceiling is out of range.
            if (path(id).startsWith("/auth/sessions/") && id === String(SERIAL_MAX + 1)) continue;
            const res = await app.request(method, path(id), {
              headers: bearer(admin.access_token),
              ...(json === undefined ? {} : { json }),
            });
            const problem = await expectProblem(res, 422);
            const errors = problem.errors as Array<{ path: string }>;
            assertEquals(errors[0]?.path.startsWith("path."), true, `${method} ${id}`);
          }
          // The largest id in range is a valid id: it is simply not there.
          const res = await app.request(method, path(String(SERIAL_MAX)), {
            headers: bearer(admin.access_token),
            ...(json === undefined ? {} : { json }),
          });
          assertEquals([404, 204].includes(res.status), true, `${method} max id: ${res.status}`);
          await res.body?.cancel();
        });
      }
      await t.step("a look-alike user_id filter is 422 too", async () => {
        const res = await app.request("GET", "/items?user_id=0x1", {
          headers: bearer(alice.token),
        });
        const problem = await expectProblem(res, 422);
        const errors = problem.errors as Array<{ message: string }>;
        assertEquals(errors[0]?.message, invalidIdMessage());
      });
      await t.step("nothing changed: the item, the user and the session are intact", async () => {
        const read = await app.request("GET", "/items/1", { headers: bearer(alice.token) });
        assertEquals((await read.json()).name, "kept");
        const me = await app.request("GET", "/auth/me", { headers: bearer(admin.access_token) });
        assertEquals(me.status, 200);
        const user = await app.request("GET", `/users/${alice.id}`, {
          headers: bearer(admin.access_token),
        });
        assertEquals((await user.json()).activated, true);
      });
    } finally {
      await app.close();
    }
  });
}
