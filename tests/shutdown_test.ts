import { assert, assertEquals } from "./helpers/assert.ts";
import { startServiceProcess } from "./helpers/process.ts";

const encoder = new TextEncoder();

async function readAll(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const buffer = new Uint8Array(16_384);
  for (;;) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text;
}

async function refusesConnections(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return false;
  } catch {
    return true;
  }
}

Deno.test("SIGTERM lets a slow in-flight request finish, turns new ones away and exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "items-api-shutdown-" });
  const service = await startServiceProcess({
    DATABASE_URL: `sqlite:${dir}/shutdown.db`,
    SHUTDOWN_TIMEOUT: "10s",
  });
  try {
    // A login whose body arrives slowly: the request is in flight when SIGTERM lands.
    const body = JSON.stringify({ username: "admin", password: "admin-password-for-tests" });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: service.port });
    await conn.write(encoder.encode(
      `POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    ));
    await conn.write(encoder.encode(body.slice(0, 10)));
    await new Promise((r) => setTimeout(r, 200));
    service.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));

    // While the upload is still running, a new request is answered 503 at once, not served.
    const late = await fetch(`${service.baseUrl}/livez`).catch(() => undefined);
    if (late) {
      assertEquals(late.status, 503);
      assertEquals(late.headers.get("content-type"), "application/problem+json");
      await late.body?.cancel();
    }

    // The in-flight request completes with its real answer.
    await conn.write(encoder.encode(body.slice(10)));
    const response = await readAll(conn);
    conn.close();
    assert(
      /^HTTP\/1\.1 200 /.test(response),
      `unexpected response: ${response}\n${service.output()}`,
    );
    assert(response.includes('"access_token"'), response);

    // Then the listener closes: new connections are refused.
    const deadline = Date.now() + 5_000;
    while (!(await refusesConnections(service.port)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(await refusesConnections(service.port), "new connections are still accepted");

    const status = await service.stop();
    assertEquals(status.code, 0, service.output());
    assert(service.output().includes("Stopped"), service.output());
  } finally {
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A request whose body is held back: headers and the first bytes now, the rest on `finish`. */
async function slowRequest(
  port: number,
  method: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ finish(): Promise<string>; abandon(): Promise<string> }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const head = Object.entries({ "Content-Type": "application/json", ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`).join("");
  await conn.write(encoder.encode(
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${head}` +
      `Content-Length: ${encoder.encode(body).length}\r\nConnection: close\r\n\r\n`,
  ));
  await conn.write(encoder.encode(body.slice(0, 5)));
  return {
    finish: async () => {
      await conn.write(encoder.encode(body.slice(5)));
      const response = await readAll(conn);
      conn.close();
      return response;
    },
    // Never send the rest; whatever the server does with the connection is returned.
    abandon: async () => {
      const response = await readAll(conn);
      conn.close();
      return response;
    },
  };
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1] ?? 0);
}

function bodyOf(response: string): Record<string, unknown> {
  return JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4));
}

Deno.test("SIGTERM under load: every slow request in flight completes, new ones are turned away, exit 0 before the drain limit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "items-api-shutdown-" });
  const service = await startServiceProcess({
    DATABASE_URL: `sqlite:${dir}/shutdown.db`,
    SHUTDOWN_TIMEOUT: "10s",
  });
  const load: Array<Promise<void>> = [];
  let loading = true;
  const loadStatuses = new Map<number, number>();
  try {
    const credentials = { username: "admin", password: "admin-password-for-tests" };
    const tokens = await (await fetch(`${service.baseUrl}/auth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(credentials),
    })).json() as { access_token: string; refresh_token: string };
    const auth = { Authorization: `Bearer ${tokens.access_token}` };
    const item = await (await fetch(`${service.baseUrl}/items`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...auth },
      body: JSON.stringify({ name: "patched during shutdown" }),
    })).json() as { id: number };

    // Steady traffic on keep-alive connections while the slow requests hang.
    for (let i = 0; i < 4; i++) {
      load.push((async () => {
        while (loading) {
          try {
            const res = await fetch(`${service.baseUrl}/items?limit=2`, { headers: auth });
            await res.body?.cancel();
            loadStatuses.set(res.status, (loadStatuses.get(res.status) ?? 0) + 1);
          } catch {
            // refused or closed once the listener is gone: expected, counted as 0
            loadStatuses.set(0, (loadStatuses.get(0) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      })());
    }

    const slow = [
      await slowRequest(service.port, "POST", "/auth/token", JSON.stringify(credentials)),
      await slowRequest(
        service.port,
        "POST",
        "/items",
        JSON.stringify({ name: "created during shutdown" }),
        auth,
      ),
      await slowRequest(
        service.port,
        "PATCH",
        `/items/${item.id}`,
        JSON.stringify({ description: "changed during shutdown" }),
        auth,
      ),
      await slowRequest(
        service.port,
        "POST",
        "/auth/refresh",
        JSON.stringify({ refresh_token: tokens.refresh_token }),
      ),
    ];
    await new Promise((r) => setTimeout(r, 200));
    service.child.kill("SIGTERM");

    // New requests are turned away with 503 while the uploads are still running.
    let turnedAway: Response | undefined;
    for (let i = 0; i < 100 && !turnedAway; i++) {
      const res = await fetch(`${service.baseUrl}/livez`);
      if (res.status === 503) turnedAway = res;
      else await res.body?.cancel();
    }
    assert(turnedAway, "no request was turned away after SIGTERM");
    await expectProblemText(turnedAway);

    // Every request in flight completes with its real answer.
    const answers = await Promise.all(slow.map((s) => s.finish()));
    assertEquals(answers.map(statusOf), [200, 201, 200, 200], answers.join("\n---\n"));
    assert(typeof bodyOf(answers[0]!).access_token === "string");
    assertEquals(bodyOf(answers[1]!).name, "created during shutdown");
    assertEquals(bodyOf(answers[2]!).description, "changed during shutdown");
    assert(typeof bodyOf(answers[3]!).refresh_token === "string");

    // Then the listener closes: new connections are refused.
    const deadline = Date.now() + 5_000;
    while (!(await refusesConnections(service.port)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(await refusesConnections(service.port), "new connections are still accepted");

    const status = await service.stop();
    assertEquals(status.code, 0, service.output());
    assert(service.output().includes("Stopped"), service.output());
    assert(!service.output().includes("Drain limit"), "the drain ran into its limit");
    loading = false;
    await Promise.all(load);
    // The load saw answers (200) and turn-aways (503) or closed doors (0), never anything else.
    for (const code of loadStatuses.keys()) {
      assert([0, 200, 503].includes(code), `load got ${code}`);
    }
    assert((loadStatuses.get(200) ?? 0) > 0, "the load never got through");
  } finally {
    loading = false;
    await Promise.all(load);
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM with an upload that never finishes: exit 0 once the drain limit has passed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "items-api-shutdown-" });
  const service = await startServiceProcess({
    DATABASE_URL: `sqlite:${dir}/shutdown.db`,
    SHUTDOWN_TIMEOUT: "1s",
  });
  try {
    const stuck = await slowRequest(
      service.port,
      "POST",
      "/auth/token",
      JSON.stringify({ username: "admin", password: "admin-password-for-tests" }),
    );
    await new Promise((r) => setTimeout(r, 200));
    service.child.kill("SIGTERM");
    // The process does not wait for the upload forever: it exits, and cleanly.
    const status = await service.stop(20_000);
    assertEquals(status.code, 0, service.output());
    assert(service.output().includes("Drain limit of 1000 ms reached"), service.output());
    assert(service.output().includes("Stopped"), service.output());
    // The abandoned connection was closed, not left open, and not with a server error.
    const code = statusOf(await stuck.abandon());
    assert(code === 0 || code < 500 || code === 503, `the stuck upload got ${code}`);
  } finally {
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

async function expectProblemText(res: Response): Promise<void> {
  assertEquals(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json() as { status: number };
  assertEquals(body.status, 503);
}
