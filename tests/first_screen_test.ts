/**
 * What a newcomer sees first: `deno task dev` prints clickable URLs (no quoted values inside
 * them) for the API, the docs and the metrics, names the development admin, and Deno prints no
 * "Ignored build scripts" warning, because every npm package with lifecycle scripts is decided
 * in deno.json.
 */
import denoJson from "../deno.json" with { type: "json" };
import { assert, assertEquals } from "./helpers/assert.ts";
import { freePort, startServiceProcess } from "./helpers/process.ts";
import { clickableUrl, isLoopbackHost } from "@/runtime/listen-url.ts";

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

Deno.test("the development first screen shows clickable URLs, the docs and the admin's username", async () => {
  const metricsPort = freePort();
  const service = await startServiceProcess({
    APP_ENV: "development",
    LOG_FORMAT: "pretty",
    HOST: "0.0.0.0",
    METRICS_PORT: String(metricsPort),
    DATABASE_URL: "sqlite::memory:",
    ADMIN_USERNAME: "admin",
  });
  try {
    // The last of the startup lines is written right after the listener is up.
    for (let i = 0; i < 100 && !service.output().includes("Development admin"); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const text = service.output().replace(ANSI, "");
    const base = `http://localhost:${service.port}`;
    for (
      const line of [
        `Listening on ${base} (sqlite, started in `,
        `API docs on ${base}/docs (Swagger UI: ${base}/docs/swagger)`,
        `Metrics on http://localhost:${metricsPort}/metrics`,
        "Development admin: admin",
        // Which Argon2id runs the logins (the native binding where it loads, else Web Crypto).
        "Password hashing: Argon2id on ",
      ]
    ) {
      assert(text.includes(line), `missing "${line}" in:\n${text}`);
    }
    assertEquals(text.match(/https?:\/\/\S*["']\S*/g), null, "a quoted value inside a URL");
    assert(!text.includes("Ignored build scripts"), text);
    assert(!/admin-password-for-tests/.test(text), "the admin password was printed");
    const docs = await fetch(`${base}/docs`);
    await docs.body?.cancel();
    assertEquals(docs.status, 200, "the printed docs URL works");
  } finally {
    await service.stop();
  }
});

Deno.test("in development the service listens on loopback unless HOST says otherwise, and says so", async () => {
  const service = await startServiceProcess({
    APP_ENV: "development",
    LOG_FORMAT: "pretty",
    HOST: "", // unset: the development default
    METRICS_PORT: String(freePort()),
    DATABASE_URL: "sqlite::memory:",
  });
  try {
    for (let i = 0; i < 100 && !service.output().includes("Development admin"); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const text = service.output().replace(ANSI, "");
    const line = `Listening on http://127.0.0.1:${service.port} (sqlite, started in `;
    assert(text.includes(line), `missing "${line}" in:\n${text}`);
    assert(text.includes("this machine only, HOST=0.0.0.0 exposes it)"), text);
    assert(text.includes("Metrics on http://127.0.0.1:"), "metrics share the host default");
    // Another address of this machine is refused (when it has one).
    const other = Deno.networkInterfaces().find((i) =>
      i.family === "IPv4" && !isLoopbackHost(i.address)
    );
    if (other) {
      let connected = false;
      try {
        (await Deno.connect({ hostname: other.address, port: service.port })).close();
        connected = true;
      } catch {
        // refused: nothing listens there
      }
      assertEquals(connected, false, `reachable on ${other.address}`);
    }
  } finally {
    await service.stop();
  }
});

Deno.test("clickableUrl() turns wildcard addresses into localhost and brackets IPv6", () => {
  assertEquals(clickableUrl("0.0.0.0", 8080), "http://localhost:8080");
  assertEquals(clickableUrl("::", 8080), "http://localhost:8080");
  assertEquals(clickableUrl("127.0.0.1", 80), "http://127.0.0.1:80");
  assertEquals(clickableUrl("::1", 8080), "http://[::1]:8080");
  assertEquals(clickableUrl("api.internal", 8080), "http://api.internal:8080");
});

Deno.test("isLoopbackHost() knows 127.0.0.0/8, ::1 and localhost", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]) {
    assert(isLoopbackHost(host), host);
  }
  for (const host of ["0.0.0.0", "::", "10.0.0.1", "api.internal", "128.0.0.1"]) {
    assert(!isLoopbackHost(host), host);
  }
});

Deno.test("every locked npm package with lifecycle scripts is allowed or denied in deno.json", async () => {
  const lock = JSON.parse(await Deno.readTextFile(new URL("../deno.lock", import.meta.url)));
  const allowScripts: { allow?: string[]; deny?: string[] } = denoJson.allowScripts ?? {};
  const decided = new Set(
    [...(allowScripts.allow ?? []), ...(allowScripts.deny ?? [])]
      .map((spec) => spec.replace(/^npm:/, "").replace(/(.)@.*$/, "$1")),
  );
  const undecided: string[] = [];
  for (const [key, info] of Object.entries(lock.npm ?? {}) as [string, { scripts?: boolean }][]) {
    if (!info.scripts) continue;
    const name = key.replace(/(.)@.*$/, "$1");
    if (!decided.has(name)) undecided.push(key);
  }
  // Deno would warn "Ignored build scripts" about each of these on a fresh cache.
  assertEquals(undecided, [], "packages with lifecycle scripts missing from allowScripts");
});
