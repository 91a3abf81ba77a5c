/**
 * Baseline for `GET /livez`: bare `Deno.serve` answering a small JSON body, nothing else.
 * Usage: `deno run --allow-net bench/baselines/bare.ts <port>`.
 *
 * @module
 */
const port = Number(Deno.args[0] ?? "8090");
const BODY = JSON.stringify({ status: "ok" });
const HEADERS = { "content-type": "application/json" };

Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => console.log(`bare baseline on ${port}`) },
  () => new Response(BODY, { headers: HEADERS }),
);
