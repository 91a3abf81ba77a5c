/**
 * http/items-api.http, the REST-client collection, run whole with httpyac (pinned, from npm)
 * against the service started as a child process, in place and through the documented
 * override (`--env local --var baseUrl=…`): every request answers the status listed here, and
 * every operation of the OpenAPI document has a request, so the collection cannot rot while the
 * API changes.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { TEST_ADMIN } from "./helpers/app.ts";
import { ensureNpmTools, runTool } from "./helpers/npm-tools.ts";
import { startServiceProcess } from "./helpers/process.ts";
import { OPERATION_METHODS } from "@/modules/docs/openapi-document.ts";

/** Pinned; bump deliberately. */
const HTTPYAC = "httpyac@6.16.7";

const COLLECTION = new URL("../http/items-api.http", import.meta.url);
const ENVIRONMENTS = new URL("../http/http-client.env.json", import.meta.url);
const REPO = new URL("..", import.meta.url);

/** What the user may set from outside the file (an environment, `--var`). */
const SETTINGS = ["baseUrl", "username", "password"];

/** The status each request of the collection answers when it runs top to bottom. */
const EXPECTED: Record<string, number | "skipped"> = {
  livez: 200,
  readyz: 200,
  listVersions: 200,
  listRoles: 200,
  getRole: 200,
  login: 200,
  loginForm: 200,
  me: 200,
  listSessions: 200,
  revokeUnknownSession: 404,
  createApiKey: 201,
  createApiKeyJetBrains: 201,
  listApiKeys: 200,
  listItemsWithApiKey: 200,
  revokeApiKey: 204,
  createVersion: 201,
  createVersionJetBrains: 201,
  updateVersion: 200,
  getVersion: 200,
  createUser: 201,
  createUserJetBrains: 201,
  listUsers: 200,
  getUser: 200,
  updateUser: 200,
  deleteUser: 204,
  createItem: 201,
  createItemJetBrains: 201,
  listItems: 200,
  getItem: 200,
  updateItem: 200,
  deleteItem: 204,
  listAuditEvents: 200,
  // REST Client syntax httpyac does not read; its JetBrains twin runs instead.
  refresh: "skipped",
  refreshJetBrains: 200,
  revokeOtherSessions: 204,
  logout: 204,
  meAfterLogout: 401,
};

interface Request {
  name: string;
  method: string;
  url: string;
}

/** The requests of a collection: `# @name`, then the request line. */
function requestsOf(text: string): Request[] {
  const out: Request[] = [];
  for (const block of text.split(/^###.*$/m).slice(1)) {
    const name = /^# @name (\S+)$/m.exec(block)?.[1];
    const line = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+)/m.exec(block);
    if (name && line) out.push({ name, method: line[1]!, url: line[2]! });
  }
  return out;
}

Deno.test("http/items-api.http names every request, covers every operation, and captures what it uses", async (t) => {
  const text = await Deno.readTextFile(COLLECTION);
  const requests = requestsOf(text);

  await t.step("every request is named once and has an expected status here", () => {
    const names = requests.map((r) => r.name);
    assertEquals(new Set(names).size, names.length, "duplicate request names");
    assertEquals(names.sort(), Object.keys(EXPECTED).sort());
  });

  await t.step(
    "base URL and credentials come from the `local` environment, not the file",
    async () => {
      // A value set in the file would beat httpyac's --var (and REST Client's environments), so
      // the documented override would be ignored.
      for (const name of SETTINGS) {
        assert(!new RegExp(`^\\s*@${name}\\s*:?=`, "m").test(text), `the file sets @${name}`);
        assert(text.includes(`{{${name}}}`), `{{${name}}} is unused`);
      }
      const environments = JSON.parse(await Deno.readTextFile(ENVIRONMENTS));
      assertEquals(environments.local, {
        baseUrl: "http://localhost:8080",
        username: "admin",
        password: "admin",
      });
      for (const request of requests) {
        assert(request.url.startsWith("{{baseUrl}}/"), `${request.name}: ${request.url}`);
      }
    },
  );

  await t.step("every REST Client capture reads a request of the collection", () => {
    const code = text.split("\n").filter((line) => !line.startsWith("#")).join("\n");
    for (const match of code.matchAll(/\{\{(\w+)\.response\.body\.\$\.\w+\}\}/g)) {
      assert(requests.some((r) => r.name === match[1]), `no request named ${match[1]}`);
    }
    assert(/^@token = \{\{login\.response\.body\.\$\.access_token\}\}$/m.test(text), "@token");
    assert(/client\.global\.set\("token", response\.body\.access_token\)/.test(text));
  });

  await t.step("every operation of the OpenAPI document has a request", async () => {
    const { createTestApp } = await import("./helpers/app.ts");
    const app = await createTestApp("sqlite");
    try {
      const doc = await (await app.request("GET", "/openapi.json")).json();
      const missing: string[] = [];
      for (const [path, item] of Object.entries(doc.paths as Record<string, object>)) {
        const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/?]+")}(\\?.*)?$`);
        for (const method of OPERATION_METHODS) {
          if (!(method in item)) continue;
          const covered = requests.some((r) =>
            r.method === method.toUpperCase() && pattern.test(r.url.replace("{{baseUrl}}", ""))
          );
          if (!covered) missing.push(`${method.toUpperCase()} ${path}`);
        }
      }
      assertEquals(missing, [], "operations without a request in the collection");
    } finally {
      await app.close();
    }
  });
});

Deno.test("httpyac runs http/items-api.http against a live instance with the expected statuses", async () => {
  const tools = await ensureNpmTools([HTTPYAC]);
  const service = await startServiceProcess({ DATABASE_URL: "sqlite::memory:" });
  const dir = await Deno.makeTempDir({ prefix: "items-api-http-" });
  try {
    // The file as it is in the repository, through the override its header documents.
    const overrides = {
      baseUrl: service.baseUrl,
      username: TEST_ADMIN.username,
      password: TEST_ADMIN.password,
    };
    // Into a file: Node cuts a piped stdout at 64 KiB when the process exits.
    const { code, output } = await runTool(
      "bash",
      [
        "-c",
        '"$0" "$@" > "$REPORT"',
        tools.bin("httpyac"),
        ...["send", "--all", "http/items-api.http", "--env", "local", "--json", "--no-color"],
        ...Object.entries(overrides).flatMap(([name, value]) => ["--var", `${name}=${value}`]),
      ],
      { cwd: REPO.pathname, env: { REPORT: `${dir}/report.json` } },
    );
    const printed = await Deno.readTextFile(`${dir}/report.json`);
    const start = printed.indexOf("{");
    assert(start >= 0, `httpyac printed no JSON (exit code ${code}):\n${printed}${output}`);
    const report = JSON.parse(printed.slice(start, printed.lastIndexOf("}") + 1));
    const actual: Record<string, number | string> = {};
    for (const request of report.requests) {
      const skipped = request.testResults?.some((r: { status: string }) => r.status === "SKIPPED");
      actual[request.name] = request.response?.statusCode ??
        (skipped ? "skipped" : request.testResults?.[0]?.message ?? "no response");
    }
    assertEquals(actual, EXPECTED, `service output:\n${service.output()}`);
  } finally {
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
