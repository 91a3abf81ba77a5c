/**
 * The shipped nginx at the edge against hostile clients, run by Debian's nginx: behind a
 * stand-in load balancer (a second, minimal nginx that appends X-Forwarded-For), each client
 * keeps its own address, so one cannot lock another out; slow and idle connections are cut
 * off; connections per address are bounded. Clients get distinct source addresses on the
 * loopback network (127.0.0.x).
 */
import net from "node:net";
import { MYSQL_SERVER_URL } from "./helpers/databases.ts";
import { createTestApp, TEST_ADMIN } from "./helpers/app.ts";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import {
  type BackgroundProcess,
  findTool,
  repoPath,
  reportSkip,
  run,
  startBackground,
  waitFor,
} from "./helpers/deploy.ts";
import { freePort } from "./helpers/process.ts";

const NGINX = findTool("nginx", ["/usr/sbin/nginx"]);
const missing = [
  !NGINX && "nginx",
  !findTool("openssl") && "openssl",
  !findTool("envsubst") && "envsubst",
]
  .filter(Boolean);
if (missing.length > 0) {
  reportSkip("deploy_nginx_edge_test", `${missing.join(", ")} not found (apt-get install nginx)`);
}

const TIMEOUT_S = 2;
const CONNECTIONS_PER_ADDRESS = 4;
const APP_LOGIN_ADDRESS_MAX = 3;

/** What a raw exchange from one source address gave. */
interface Exchange {
  status: number;
  body: string;
  /** Milliseconds from connecting until the server closed the connection. */
  closedAfterMs: number;
}

/**
 * Send `request` (possibly incomplete) from `source` to `port` and read until the server
 * closes the connection or `timeoutMs` pass (then `closedAfterMs` is Infinity).
 */
function exchange(
  source: string,
  port: number,
  request: string,
  timeoutMs = 10_000,
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: source });
    let text = "";
    let settled = false;
    const finish = (closedAfterMs: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const [head = "", ...rest] = text.split("\r\n\r\n");
      resolve({
        status: Number(head.split(" ")[1] ?? 0),
        body: rest.join("\r\n\r\n"),
        closedAfterMs,
      });
    };
    const timer = setTimeout(() => finish(Infinity), timeoutMs);
    socket.on("connect", () => {
      if (request) socket.write(request);
    });
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("close", () => finish(Date.now() - started));
    socket.on("error", (error: Error & { code?: string }) => {
      // reset_timedout_connection: nginx drops a timed-out connection with a reset.
      if (error.code === "ECONNRESET") return finish(Date.now() - started);
      clearTimeout(timer);
      reject(error);
    });
  });
}

function loginRequest(username: string, password: string, extra = ""): string {
  const body = JSON.stringify({ username, password });
  return `POST /auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\nConnection: close\r\n${extra}\r\n${body}`;
}

/** The stand-in load balancer: appends the client's address to X-Forwarded-For. */
function frontProxyConf(dir: string, port: number, upstreamPort: number): string {
  return `pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_pass http://127.0.0.1:${upstreamPort};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
`;
}

async function startNginx(dir: string, port: number): Promise<BackgroundProcess> {
  const check = await run(NGINX!, [
    "-t",
    "-e",
    "stderr",
    "-p",
    `${dir}/`,
    "-c",
    `${dir}/nginx.conf`,
  ]);
  assertEquals(check.code, 0, check.stderr);
  const nginx = startBackground(NGINX!, [
    "-g",
    "daemon off;",
    "-e",
    "stderr",
    "-p",
    `${dir}/`,
    "-c",
    `${dir}/nginx.conf`,
  ]);
  await waitFor("nginx to answer", async () => {
    if (nginx.exited()) throw new Error(`nginx exited:\n${nginx.output()}`);
    const res = await fetch(`http://127.0.0.1:${port}/livez`);
    await res.body?.cancel();
    return res.ok ? true : undefined;
  }, 10_000);
  return nginx;
}

Deno.test({
  name: "nginx behind a load balancer keeps clients apart and cuts slow or crowding ones off",
  ignore: missing.length > 0,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const dialect = MYSQL_SERVER_URL ? "mysql" : "sqlite";
    const app = await createTestApp(dialect, {
      env: {
        // The app trusts nginx only; nginx trusts the load balancer (REAL_IP_FROM).
        TRUST_PROXY: "127.0.0.1",
        RATE_LIMIT_LOGIN_IP_MAX: String(APP_LOGIN_ADDRESS_MAX),
        RATE_LIMIT_LOGIN_MAX: "1000",
      },
    });
    const seenForwardedFor: string[] = [];
    const upstream = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req, info) => {
        seenForwardedFor.push(req.headers.get("x-forwarded-for") ?? "");
        return app.app.fetch(req, info);
      },
    );
    const edgeDir = await Deno.makeTempDir({ prefix: "items-api-nginx-edge-" });
    const frontDir = await Deno.makeTempDir({ prefix: "items-api-nginx-front-" });
    await Deno.chmod(edgeDir, 0o755);
    const edgePort = freePort();
    const frontPort = freePort();
    const processes: BackgroundProcess[] = [];
    try {
      const rendered = await run("sh", [repoPath("nginx/render.sh")], {
        clearEnv: true,
        env: {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          NGINX_RUN_DIR: edgeDir,
          MONITORING_USER: "ops",
          MONITORING_PASSWORD: "monitoring-password-for-tests",
          LISTEN_PORT: String(edgePort),
          API_UPSTREAM: `127.0.0.1:${upstream.addr.port}`,
          RESOLVER: "127.0.0.1",
          REAL_IP_FROM: "127.0.0.1",
          LOGIN_RATE: "1r/m",
          LOGIN_BURST: "6",
          CLIENT_HEADER_TIMEOUT: `${TIMEOUT_S}s`,
          CLIENT_BODY_TIMEOUT: `${TIMEOUT_S}s`,
          KEEPALIVE_TIMEOUT: `${TIMEOUT_S}s`,
          CONNECTIONS_PER_ADDRESS: String(CONNECTIONS_PER_ADDRESS),
        },
      });
      assertEquals(rendered.code, 0, rendered.stderr);
      processes.push(await startNginx(edgeDir, edgePort));
      await Deno.writeTextFile(
        `${frontDir}/nginx.conf`,
        frontProxyConf(frontDir, frontPort, edgePort),
      );
      processes.push(await startNginx(frontDir, frontPort));

      await t.step("one client's bad logins do not lock another client out", async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 12; i++) {
          const res = await exchange(
            "127.0.0.2",
            frontPort,
            loginRequest(`nobody-${i}`, "wrong-pw"),
          );
          statuses.push(res.status);
        }
        assertEquals(statuses.slice(0, APP_LOGIN_ADDRESS_MAX), [401, 401, 401]);
        assert(statuses.slice(-3).every((s) => s === 429), statuses.join(", "));

        // Sending the victim's address in its own X-Forwarded-For changes nothing.
        const spoofed = await exchange(
          "127.0.0.2",
          frontPort,
          loginRequest("nobody", "wrong-pw", "X-Forwarded-For: 127.0.0.3\r\n"),
        );
        assertEquals(spoofed.status, 429);

        const other = await exchange(
          "127.0.0.3",
          frontPort,
          loginRequest(TEST_ADMIN.username, TEST_ADMIN.password),
        );
        assertEquals(other.status, 200, other.body);
        // The app was told the real client, through both proxies.
        assertEquals(seenForwardedFor.at(-1)?.split(",").at(-1)?.trim(), "127.0.0.3");
      });

      await t.step(
        "a connection that sends nothing or trickles its headers is closed",
        async () => {
          const [silent, partial] = await Promise.all([
            exchange("127.0.0.4", edgePort, ""),
            exchange("127.0.0.4", edgePort, "GET /livez HTTP/1.1\r\nHost: localhost\r\n"),
          ]);
          for (const res of [silent, partial]) {
            assert(
              res.closedAfterMs >= TIMEOUT_S * 1000 - 200,
              `closed after ${res.closedAfterMs} ms`,
            );
            assert(
              res.closedAfterMs < TIMEOUT_S * 1000 + 3_000,
              `closed after ${res.closedAfterMs} ms`,
            );
          }
        },
      );

      await t.step("a kept-alive connection is closed once idle", async () => {
        const res = await exchange(
          "127.0.0.4",
          edgePort,
          "GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n",
        );
        assertEquals(res.status, 200);
        assert(
          res.closedAfterMs < TIMEOUT_S * 1000 + 3_000,
          `closed after ${res.closedAfterMs} ms`,
        );
      });

      await t.step("a request body that stalls is cut off", async () => {
        const res = await exchange(
          "127.0.0.4",
          edgePort,
          "POST /auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
            "Content-Length: 100\r\n\r\n{",
        );
        assert(
          res.closedAfterMs < TIMEOUT_S * 1000 + 3_000,
          `closed after ${res.closedAfterMs} ms`,
        );
        assert(res.status === 408 || res.status === 0, `got ${res.status}`);
      });

      await t.step("requests beyond the connections allowed per address get 429", async () => {
        // Stalled uploads hold their connections while nginx waits for the rest of the body.
        const stalled = Array.from(
          { length: CONNECTIONS_PER_ADDRESS },
          () =>
            exchange(
              "127.0.0.5",
              edgePort,
              "POST /items HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{",
            ),
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        const refused = await exchange(
          "127.0.0.5",
          edgePort,
          "GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assertEquals(refused.status, 429, refused.body);
        const problem = JSON.parse(refused.body);
        assertEquals(problem.code, "rate_limited");
        assertStringIncludes(problem.detail, "connections");
        // Another address is not affected.
        const other = await exchange(
          "127.0.0.6",
          edgePort,
          "GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assertEquals(other.status, 200);
        await Promise.all(stalled);
      });
    } finally {
      for (const process of processes) await process.stop();
      await upstream.shutdown();
      await app.close();
      await Deno.remove(edgeDir, { recursive: true });
      await Deno.remove(frontDir, { recursive: true });
    }
  },
});
