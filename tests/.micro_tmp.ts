import { createTestApp } from "./helpers/app.ts";
import { setupLogging } from "@/lib/logger.ts";
const logMode = Deno.args[0] ?? "json";
if (logMode !== "off") await setupLogging({ level: "info", format: "json" });
const t = await createTestApp("sqlite", { env: { RATE_LIMIT_API_MAX: "100000000" } });
const app = t.app;
const env = { remoteAddr: { hostname: "127.0.0.1" } };
const req = () => new Request("http://localhost/livez");
async function run(n: number, handler: (r: Request) => Response | Promise<Response>) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) { const res = await handler(req()); await res.arrayBuffer(); }
  return (performance.now() - t0) * 1000 / n;
}
const bare = (_r: Request) => new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } });
const appFetch = (r: Request) => app.fetch(r, env);
for (let i = 0; i < 3; i++) { await run(20000, bare); await run(20000, appFetch); }
let b = Infinity, a = Infinity;
for (let i = 0; i < 7; i++) { b = Math.min(b, await run(20000, bare)); a = Math.min(a, await run(20000, appFetch)); }
console.error(`log=${logMode}: bare ${b.toFixed(2)} us/req, app /livez ${a.toFixed(2)} us/req, added ${(a - b).toFixed(2)} us`);
await t.close();
