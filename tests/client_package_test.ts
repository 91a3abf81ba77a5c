/**
 * The typed client as another project uses it: the snippet of docs/api.md ("Typed client"), in
 * an app folder outside the repository whose deno.json maps the client package by path, checked
 * and run with an empty Deno cache against a test app on a free port.
 */
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import type { Hono } from "hono";
import type { AppType as ServerAppType } from "@/app.ts";
import type { ApiSchema } from "../client/mod.ts";
import { createTestApp, TEST_ADMIN } from "./helpers/app.ts";

// deno-lint-ignore no-explicit-any
type SchemaOf<R> = R extends Hono<any, infer S, any> ? S : never;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Fails `deno check tests/` while client/api-schema.ts is stale: `deno task client:schema`. */
const schemaIsCurrent: Same<ApiSchema, SchemaOf<ServerAppType>> = true;

const REPO = new URL("..", import.meta.url);

/** The first TypeScript block after the "Typed client" heading of docs/api.md. */
async function docsSnippet(): Promise<string> {
  const page = await Deno.readTextFile(new URL("docs/api.md", REPO));
  const section = page.slice(page.indexOf("### Typed client"));
  const match = section.match(/```ts\n([\s\S]*?)```/);
  assert(match, "no ts block under Typed client in docs/api.md");
  return match[1]!;
}

Deno.test("the docs' client snippet type-checks and runs from an app beside the clone, fetching only hono", async () => {
  assert(schemaIsCurrent);
  const snippet = await docsSnippet();
  assertStringIncludes(snippet, 'from "@items-api/items-api/client"');
  const test = await createTestApp("sqlite");
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, test.app.fetch);
  const appDir = await Deno.makeTempDir({ prefix: "items-api-consumer-" });
  const denoDir = await Deno.makeTempDir({ prefix: "items-api-consumer-cache-" });
  try {
    // What docs/api.md tells another project to write, with the clone where this test runs.
    const clientPath = new URL("client/mod.ts", REPO).pathname;
    await Deno.writeTextFile(
      `${appDir}/deno.json`,
      JSON.stringify({ imports: { "@items-api/items-api/client": clientPath } }),
    );
    await Deno.writeTextFile(
      `${appDir}/main.ts`,
      snippet
        .replace("http://localhost:8080", `http://127.0.0.1:${server.addr.port}`)
        .replace('username: "admin"', `username: ${JSON.stringify(TEST_ADMIN.username)}`)
        .replace('password: "admin"', `password: ${JSON.stringify(TEST_ADMIN.password)}`),
    );
    const deno = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args,
        cwd: appDir,
        env: { DENO_DIR: denoDir, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

    const check = await deno("check", "main.ts");
    assert(check.success, `deno check failed:\n${decode(check.stderr)}`);
    const run = await deno("run", "--allow-net=127.0.0.1", "main.ts");
    assert(run.success, `deno run failed:\n${decode(run.stderr)}`);
    assertEquals(decode(run.stdout).trim(), "[]");

    const fetched = [];
    for await (const entry of Deno.readDir(`${denoDir}/npm/registry.npmjs.org`)) {
      fetched.push(entry.name);
    }
    assertEquals(fetched, ["hono"], "the client needs hono alone");
  } finally {
    await server.shutdown();
    await test.deps.close();
    await Deno.remove(appDir, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});
