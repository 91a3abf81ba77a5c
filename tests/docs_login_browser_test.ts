/**
 * Docs that log in: in Debian's Chromium (headless, playwright-core), Swagger UI's "Authorize"
 * dialog takes a username and password (the OAuth 2 password flow on POST /auth/token), and
 * then "Try it out" on GET /items answers 200 with rows, sending no filter nobody typed; Scalar's
 * auth panel logs in the same way, and its Refresh button renews the tokens (the refresh grant on
 * the flow's refreshUrl, POST /auth/token). Swagger UI has no refresh button.
 * Screenshots land in tests/.artifacts/ (gitignored).
 */
// deno-lint-ignore no-import-prefix -- test-only: kept out of deno.json so the service never fetches it (docs/decisions.md)
import { chromium } from "npm:playwright-core@^1.65.1";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, TEST_ADMIN } from "./helpers/app.ts";
import { createUser } from "./helpers/auth.ts";
import { clientOf, expectJson } from "./helpers/client.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("./.artifacts/", import.meta.url);

function chromiumMissing(): string | undefined {
  try {
    Deno.statSync(CHROMIUM);
    return undefined;
  } catch {
    return `${CHROMIUM} not found (apt-get install chromium)`;
  }
}

const missing = chromiumMissing();
if (missing) console.log(`Docs login browser test skipped: ${missing}`);

Deno.test({
  name:
    "[sqlite] the docs log in with a username and password: Swagger, then GET /items answers rows; Scalar, then its Refresh button renews the tokens",
  ignore: missing !== undefined,
  async fn(t) {
    const app = await createTestApp("sqlite", { env: { DOCS_AUTH: "none" } });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      app.app.fetch,
    );
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
    try {
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      const owner = await createUser(app);
      for (const name of ["Notebook", "Pen"]) {
        await expectJson(await clientOf(app, owner.token).items.$post({ json: { name } }), 201);
      }
      const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      const sent: { url: string; authorization: string | null }[] = [];
      page.on("request", (request) => {
        const url = new URL(request.url());
        if (url.pathname === "/items" || url.pathname === "/auth/token") {
          sent.push({
            url: request.url(),
            authorization: request.headers()["authorization"] ?? null,
          });
        }
      });

      await t.step("the Authorize dialog takes a username and password", async () => {
        const res = await page.goto(`${origin}/docs/swagger`, { waitUntil: "load" });
        assertEquals(res?.status(), 200);
        await page.locator("button.authorize").first().click();
        const dialog = page.locator(".modal-ux");
        await dialog.waitFor({ timeout: 30_000 });
        // The password-flow section (the bearer one beside it takes a pasted token).
        const oauth = dialog.locator(".auth-container", { has: page.locator("#oauth_username") });
        await oauth.locator("#oauth_username").fill(TEST_ADMIN.username);
        await oauth.locator("#oauth_password").fill(TEST_ADMIN.password);
        const login = page.waitForResponse((r) => new URL(r.url()).pathname === "/auth/token");
        await oauth.locator("button.authorize").click();
        assertEquals((await login).status(), 200);
        // Logged in: the section shows the user and offers to log out instead.
        await dialog.getByText("Authorized", { exact: true }).waitFor({ timeout: 10_000 });
        await dialog.getByRole("button", { name: "Remove authorization" }).waitFor();
        await page.screenshot({ path: new URL("docs-swagger-login.png", ARTIFACTS).pathname });
        await dialog.locator("button.close-modal").first().click();
        await dialog.waitFor({ state: "detached" });
      });

      await t.step("Try it out on GET /items: 200 with rows, no filters sent", async () => {
        const operation = page.locator("#operations-Items-getItems");
        await operation.locator(".opblock-summary").first().click();
        await operation.locator("button.try-out__btn").click();
        const answer = page.waitForResponse((r) =>
          new URL(r.url()).pathname === "/items" && r.request().method() === "GET"
        );
        await operation.locator("button.execute").click();
        const res = await answer;
        assertEquals(res.status(), 200);
        const body = await res.json();
        assert(body.items.length >= 2, `rows: ${JSON.stringify(body)}`);
        await operation.locator(".live-responses-table tbody .response-col_status").first()
          .waitFor();
        const shown = await operation.locator(".live-responses-table tbody .response-col_status")
          .first().innerText();
        assert(shown.trim().startsWith("200"), shown);
        await page.screenshot({ path: new URL("docs-swagger-items.png", ARTIFACTS).pathname });

        const request = sent.find((r) => new URL(r.url).pathname === "/items");
        assert(request, "no GET /items was sent");
        const query = new URL(request.url).searchParams;
        for (const filter of ["name", "description", "user_id", "sort"]) {
          assertEquals(query.get(filter), null, `?${filter} was prefilled: ${request.url}`);
        }
        assert(request.authorization?.startsWith("Bearer "), "the token goes as a bearer token");
      });

      await t.step("Scalar's auth panel takes a username and password too", async () => {
        const scalar = await context.newPage();
        scalar.on("pageerror", (error) => errors.push(`scalar: ${error.message}`));
        const res = await scalar.goto(`${origin}/docs`, { waitUntil: "load" });
        assertEquals(res?.status(), 200);
        await scalar.getByText("Select Auth Type").first().click({ timeout: 30_000 });
        await scalar.getByRole("option", { name: "oauth2Password" }).click();
        await scalar.keyboard.press("Escape");
        await scalar.locator('[contenteditable][data-placeholder="janedoe"]').click();
        await scalar.keyboard.type(TEST_ADMIN.username);
        await scalar.getByPlaceholder("********").first().fill(TEST_ADMIN.password);
        const [login] = await Promise.all([
          scalar.waitForResponse((r) => new URL(r.url()).pathname === "/auth/token"),
          scalar.getByRole("button", { name: "Authorize", exact: true }).click(),
        ]);
        assertEquals(login.status(), 200);
        const form = new URLSearchParams(login.request().postData() ?? "");
        assertEquals(form.get("grant_type"), "password");
        assertEquals(form.get("username"), TEST_ADMIN.username);
        await scalar.screenshot({ path: new URL("docs-scalar-login.png", ARTIFACTS).pathname });

        // Refresh: the refresh grant on the flow's refreshUrl (POST /auth/token), with the
        // refresh token of the login; the answer rotates the pair.
        const issued = await login.json();
        const [refreshed] = await Promise.all([
          scalar.waitForResponse((r) =>
            new URL(r.url()).pathname === "/auth/token" &&
            new URLSearchParams(r.request().postData() ?? "").get("grant_type") === "refresh_token"
          ),
          scalar.getByRole("button", { name: "Refresh", exact: true }).first().click(),
        ]);
        const sentForm = new URLSearchParams(refreshed.request().postData() ?? "");
        assertEquals(sentForm.get("refresh_token"), issued.refresh_token);
        assertEquals(refreshed.status(), 200);
        const rotated = await refreshed.json();
        assert(rotated.refresh_token !== issued.refresh_token, "the refresh token rotated");
        const me = await clientOf(app, rotated.access_token).auth.me.$get();
        assertEquals((await expectJson(me, 200)).username, TEST_ADMIN.username);
        await scalar.screenshot({ path: new URL("docs-scalar-refresh.png", ARTIFACTS).pathname });
        await scalar.close();
      });
      assertEquals(errors, [], "page errors");
      await context.close();
    } finally {
      await browser.close();
      await server.shutdown();
      await app.close();
    }
  },
});
