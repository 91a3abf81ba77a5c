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
