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

Deno.test("SIGTERM lets a slow in-flight request finish, refuses new connections and exits 0", async () => {
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
    await new Promise((r) => setTimeout(r, 500));

    // The listener is closed: a new connection is refused.
    let refused = false;
    try {
      const late = await Deno.connect({ hostname: "127.0.0.1", port: service.port });
      late.close();
    } catch {
      refused = true;
    }
    assert(refused, "a new connection was accepted after SIGTERM");

    // The in-flight request still completes with a real answer.
    await conn.write(encoder.encode(body.slice(10)));
    const response = await readAll(conn);
    conn.close();
    assert(/^HTTP\/1\.1 (200|401|404|422) /.test(response), `unexpected response: ${response.slice(0, 200)}`);
    assert(!response.startsWith("HTTP/1.1 5"), response.slice(0, 200));

    const status = await service.stop();
    assertEquals(status.code, 0, service.output());
    assert(service.output().includes("Stopped"), service.output());
  } finally {
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
