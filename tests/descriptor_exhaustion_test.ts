/**
 * Running out of file descriptors is never fatal: the real service, started with
 * `ulimit -n 400`, is flooded with idle connections and keeps (or resumes) serving.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { freePort, startServiceProcess } from "./helpers/process.ts";

const NOFILE_LIMIT = 400;
const IDLE_CONNECTIONS = 450;

/** Open up to `count` TCP connections that send nothing; stops at the first refusal. */
async function openIdle(port: number, count: number): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < count; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch {
      // The listener is down (its accept loop hit EMFILE); the rest would be refused too.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return conns;
}

function closeAll(conns: Deno.TcpConn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // closed by the service's drain
    }
  }
}

/** GET /livez until it answers 200 or `timeoutMs` pass; returns the last status (0: no answer). */
async function livezWithin(baseUrl: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let status = 0;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${baseUrl}/livez`, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      status = res.status;
      if (status === 200) return status;
    } catch {
      status = 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return status;
}

/** Whether an idle connection was closed by the service (reads EOF or a reset). */
async function closedByPeer(conn: Deno.TcpConn, withinMs: number): Promise<boolean> {
  const buffer = new Uint8Array(64);
  const read = conn.read(buffer).then((n) => n === null, () => true);
  const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), withinMs));
  return await Promise.race([read, timeout]);
}

Deno.test({
  name: "Descriptor exhaustion under ulimit -n 400 is never fatal to the service",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const metricsPort = freePort();
    const service = await startServiceProcess(
      { DATABASE_URL: "sqlite::memory:", LOG_LEVEL: "info", METRICS_PORT: String(metricsPort) },
      { nofileLimit: NOFILE_LIMIT },
    );
    try {
      await t.step("450 idle connections opened and then closed: /livez answers 200", async () => {
        const conns = await openIdle(service.port, IDLE_CONNECTIONS);
        const exhaustedLines = () =>
          service.output().split("\n").filter((line) => line.includes("Not accepting connections"));
        // The service may still be accepting what waits in its backlog: let it run out first.
        for (let i = 0; i < 100 && exhaustedLines().length === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        closeAll(conns);
        assertEquals(await livezWithin(service.baseUrl, 10_000), 200, service.output());
        const exhausted = exhaustedLines();
        assert(exhausted.length >= 1, `descriptor exhaustion was not logged:\n${service.output()}`);
        assert(exhausted.length <= 2, `logged ${exhausted.length} times, not once per interval`);
        assert(exhausted[0]!.includes("Too many open files"), exhausted[0]);
      });

      await t.step(
        "450 idle connections held open: the service closes them and answers /livez again",
        async () => {
          const conns = await openIdle(service.port, IDLE_CONNECTIONS);
          try {
            // The drain closes the idle connections that ran the descriptors out.
            assert(
              await closedByPeer(conns[0]!, 10_000),
              "the first idle connection is still open",
            );
            assertEquals(await livezWithin(service.baseUrl, 10_000), 200, service.output());
          } finally {
            closeAll(conns);
          }
        },
      );

      await t.step(
        "a request in flight when descriptors run out still gets its answer",
        async () => {
          // An upload that is still being sent holds its request open across the exhaustion.
          const conn = await Deno.connect({ hostname: "127.0.0.1", port: service.port });
          const encoder = new TextEncoder();
          const body = JSON.stringify({ username: "nobody-here", password: "wrong-password" });
          await conn.write(encoder.encode(
            `POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
              `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
          ));
          await new Promise((resolve) => setTimeout(resolve, 200));
          const idle = await openIdle(service.port, IDLE_CONNECTIONS);
          await conn.write(encoder.encode(body.slice(5)));
          const chunks: string[] = [];
          const buffer = new Uint8Array(4096);
          const decoder = new TextDecoder();
          for (;;) {
            const n = await conn.read(buffer).catch(() => null);
            if (n === null) break;
            chunks.push(decoder.decode(buffer.subarray(0, n)));
          }
          conn.close();
          closeAll(idle);
          assert(chunks.join("").startsWith("HTTP/1.1 401"), chunks.join("") || "no answer");
          assertEquals(await livezWithin(service.baseUrl, 10_000), 200, service.output());
        },
      );

      await t.step(
        "450 idle connections to the metrics port stop neither listener",
        async () => {
          const idle = await openIdle(metricsPort, IDLE_CONNECTIONS);
          closeAll(idle);
          const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
          let status = 0;
          for (let i = 0; i < 100 && status !== 200; i++) {
            try {
              const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(1_000) });
              await res.body?.cancel();
              status = res.status;
            } catch {
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
          }
          assertEquals(status, 200, service.output());
          assertEquals(await livezWithin(service.baseUrl, 10_000), 200, service.output());
        },
      );
    } finally {
      const status = await service.stop();
      assertEquals(status.code, 0, `the service did not exit cleanly:\n${service.output()}`);
    }
  },
});
