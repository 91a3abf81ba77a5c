import { assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem } from "./helpers/app.ts";
import { DIALECTS } from "./helpers/databases.ts";

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] GET /roles lists the seeded roles to anyone`, async () => {
    const app = await createTestApp(dialect);
    try {
      const res = await app.request("GET", "/roles");
      assertEquals(res.status, 200);
      assertEquals(await res.json(), [{ id: 1, name: "admin" }, { id: 2, name: "user" }]);
    } finally {
      await app.close();
    }
  });

  Deno.test(`[${dialect}] GET /roles/{role_id} returns one role, 404 unknown, 422 malformed`, async () => {
    const app = await createTestApp(dialect);
    try {
      const res = await app.request("GET", "/roles/1");
      assertEquals(res.status, 200);
      assertEquals(await res.json(), { id: 1, name: "admin" });
      assertEquals(
        (await expectProblem(await app.request("GET", "/roles/3"), 404)).detail,
        "Role not found",
      );
      for (const bad of ["abc", "0", "-1", "1.5", "99999999999"]) {
        await expectProblem(await app.request("GET", `/roles/${bad}`), 422);
      }
    } finally {
      await app.close();
    }
  });
}
