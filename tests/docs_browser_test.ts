/**
 * The docs pages in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against the service on a real port, with every request to another host blocked and counted.
 * Screenshots land in tests/.artifacts/ (gitignored).
 */
// deno-lint-ignore no-import-prefix -- test-only: kept out of deno.json so the service never fetches it (docs/decisions.md)
import { chromium, type Page } from "npm:playwright-core@^1.65.1";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, TEST_ADMIN } from "./helpers/app.ts";

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
if (missing) console.log(`Docs browser test skipped: ${missing}`);

interface PageWatch {
  /** Requests to any other origin, which were aborted. */
  blocked: string[];
  /** Console errors (CSP violations show up here) and uncaught page errors. */
  errors: string[];
}

async function watch(page: Page, origin: string): Promise<PageWatch> {
  const seen: PageWatch = { blocked: [], errors: [] };
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`)) return route.continue();
    seen.blocked.push(url);
    return route.abort("blockedbyclient");
  });
  page.on("console", (message) => {
    if (message.type() === "error") seen.errors.push(message.text());
  });
  page.on("pageerror", (error) => seen.errors.push(`page error: ${error.message}`));
  return seen;
}

Deno.test({
  name: "[sqlite] /docs and /docs/swagger render every operation offline, behind Basic auth",
  ignore: missing !== undefined,
  async fn(t) {
    const app = await createTestApp("sqlite", { env: { DOCS_AUTH: "basic" } });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      app.app.fetch,
    );
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      const auth = `Basic ${btoa(`${TEST_ADMIN.username}:${TEST_ADMIN.password}`)}`;
      const doc =
        await (await fetch(`${origin}/openapi.json`, { headers: { Authorization: auth } }))
          .json();
      const operations: { method: string; path: string; summary: string }[] = [];
      for (const [path, item] of Object.entries(doc.paths as Record<string, object>)) {
        for (const [method, op] of Object.entries(item as Record<string, { summary?: string }>)) {
          if (op.summary) operations.push({ method, path, summary: op.summary });
        }
      }
      assert(operations.length > 10, `expected the API's operations, got ${operations.length}`);
      const tags = [...new Set((doc.tags as { name: string }[]).map((tag) => tag.name))];

      const context = await browser.newContext({
        viewport: { width: 1440, height: 1000 },
        httpCredentials: { username: TEST_ADMIN.username, password: TEST_ADMIN.password },
      });

      await t.step("Scalar at /docs", async () => {
        const page = await context.newPage();
        const seen = await watch(page, origin);
        const res = await page.goto(`${origin}/docs`, { waitUntil: "load" });
        assertEquals(res?.status(), 200);
        // The sidebar has a group per tag; open each, and every operation is listed by summary.
        for (const tag of tags) {
          const group = page.getByRole("button", {
            name: new RegExp(`^(Open|Close) Group - ${tag}$`),
          });
          await group.first().waitFor({ timeout: 30_000 });
          const open = page.getByRole("button", { name: `Open Group - ${tag}`, exact: true });
          if (await open.count() > 0) await open.first().click();
        }
        for (const { summary } of operations) {
          await page.getByText(summary, { exact: true }).first().waitFor({ timeout: 10_000 });
        }
        // Jump to an operation: its method and path render in the main column.
        const create = operations.find((op) => op.method === "post" && op.path === "/items");
        assert(create, "POST /items is documented");
        await page.getByText(create.summary, { exact: true }).first().click();
        await page.locator("main, .references-rendered").getByText("/items", { exact: true })
          .first().waitFor({ timeout: 10_000 });
        await page.screenshot({ path: new URL("docs-scalar.png", ARTIFACTS).pathname });
        assertEquals(seen.blocked, [], "the page tried to reach another host");
        assertEquals(seen.errors, [], "console errors (a CSP violation shows up here)");
        await page.close();
      });

      await t.step("Swagger UI at /docs/swagger", async () => {
        const page = await context.newPage();
        const seen = await watch(page, origin);
        const res = await page.goto(`${origin}/docs/swagger`, { waitUntil: "load" });
        assertEquals(res?.status(), 200);
        await page.locator(".opblock").first().waitFor({ timeout: 30_000 });
        assertEquals(await page.locator(".opblock").count(), operations.length);
        for (const { summary } of operations) {
          await page.getByText(summary, { exact: true }).first().waitFor({
            state: "attached",
            timeout: 10_000,
          });
        }
        await page.screenshot({ path: new URL("docs-swagger.png", ARTIFACTS).pathname });
        assertEquals(seen.blocked, [], "the page tried to reach another host");
        assertEquals(seen.errors, [], "console errors (a CSP violation shows up here)");
        await page.close();
      });

      await t.step("without credentials the browser gets no docs", async () => {
        const anonymous = await browser.newContext();
        const page = await anonymous.newPage();
        const seen = await watch(page, origin);
        // Headless Chromium has nobody to ask for a password: it fails the navigation, or
        // shows the 401 problem document; either way the docs page never loads.
        const outcome = await page.goto(`${origin}/docs`).then(
          (res) => `status ${res?.status()}`,
          (error: Error) =>
            error.message.includes("ERR_INVALID_AUTH_CREDENTIALS") ? "refused" : error.message,
        );
        assert(outcome === "refused" || outcome === "status 401", `unexpected: ${outcome}`);
        assert(!seen.errors.some((e) => e.includes("page error")), "a script ran");
        await anonymous.close();
      });
      await context.close();
    } finally {
      await browser.close();
      await server.shutdown();
      await app.close();
    }
  },
});
