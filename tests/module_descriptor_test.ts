/**
 * A module declares itself once: a descriptor alone (its router, base path, tag, version gate
 * and scopes) wires it into the app — mounted, gated, documented, its scopes in the vocabulary
 * and enforced — with no other file edited.
 */
import { z } from "@hono/zod-openapi";
import { defineModule } from "@/http/module.ts";
import { jsonContent, problemResponses } from "@/http/openapi.ts";
import { defineRoute } from "@/http/router.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import type { ModuleDeps } from "@/middleware/module-deps.ts";
import { requireAuth } from "@/middleware/authenticate.ts";
import { MODULES } from "@/modules.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem } from "./helpers/app.ts";
import { bearer, loginAdmin } from "./helpers/auth.ts";

const WidgetSchema = z.object({ id: z.number().int(), owner: z.string() }).openapi("Widget");

const getWidget = defineRoute({
  method: "get",
  path: "/widgets/{widget_id}",
  tags: ["Widgets"],
  summary: "Get a widget",
  middleware: [requireAuth({ scopes: ["widgets:read"] })] as const,
  request: { params: z.object({ widget_id: z.coerce.number().int().positive() }) },
  responses: {
    200: jsonContent(WidgetSchema, "The widget"),
    ...problemResponses(401, 403, 422, 426),
  },
});

const widgetsModule = defineModule({
  name: "widgets",
  basePaths: ["/widgets"],
  versioned: true,
  tag: { name: "Widgets", description: "Widgets, for this test" },
  scopes: { "widgets:read": { description: "Read widgets", roles: ["admin"] } },
  router: (deps: ModuleDeps) =>
    createAppRouter(deps).openapi(getWidget, (c) => {
      const { widget_id } = c.req.valid("param");
      return c.json({ id: widget_id, owner: c.get("user").username }, 200);
    }),
});

Deno.test("a module descriptor alone wires a module into the app", async (t) => {
  const app = await createTestApp("sqlite", { modules: [...MODULES, widgetsModule] });
  try {
    const admin = await loginAdmin(app);

    await t.step("its router is mounted behind bearer auth", async () => {
      const res = await app.request("GET", "/widgets/7", { headers: bearer(admin.access_token) });
      assertEquals(res.status, 200);
      assertEquals(await res.json(), { id: 7, owner: "admin" });
      await expectProblem(await app.request("GET", "/widgets/7"), 401);
    });

    await t.step("the version gate applies to its base path", async () => {
      const res = await app.request("GET", "/widgets/7", {
        headers: { ...bearer(admin.access_token), "X-Version": "0.1" },
      });
      await expectProblem(res, 426);
    });

    await t.step("the document lists its tag, its operation and its scope", async () => {
      const doc = await (await app.request("GET", "/openapi.json")).json();
      assert(doc.tags.some((tag: { name: string }) => tag.name === "Widgets"));
      assert(doc.paths["/widgets/{widget_id}"]?.get, "the operation is documented");
      const flows = doc.components.securitySchemes.oauth2Password.flows.password;
      assertEquals(flows.scopes["widgets:read"], "Read widgets");
    });

    await t.step("its scope is enforced: a user's role does not hold it", async () => {
      const create = await app.request("POST", "/users", {
        headers: bearer(admin.access_token),
        json: { username: "widget-user", role_id: 2, password: "widget-user-password" },
      });
      assertEquals(create.status, 201);
      const login = await app.request("POST", "/auth/token", {
        json: { username: "widget-user", password: "widget-user-password" },
      });
      const { access_token } = await login.json();
      const body = await expectProblem(
        await app.request("GET", "/widgets/7", { headers: bearer(access_token) }),
        403,
      );
      assertEquals(body.code, "insufficient_scope");
    });
  } finally {
    await app.close();
  }
});

Deno.test("an app without a module does not serve, gate or document it", async () => {
  const app = await createTestApp("sqlite", {
    modules: MODULES.filter((module) => module.name !== "items"),
  });
  try {
    const admin = await loginAdmin(app);
    await expectProblem(
      await app.request("GET", "/items", { headers: bearer(admin.access_token) }),
      404,
    );
    const doc = await (await app.request("GET", "/openapi.json")).json();
    assertEquals(doc.paths["/items"], undefined);
    assertEquals(doc.tags.some((tag: { name: string }) => tag.name === "Items"), false);
    assertEquals(
      doc.components.securitySchemes.oauth2Password.flows.password.scopes["items:read"],
      undefined,
    );
  } finally {
    await app.close();
  }
});
