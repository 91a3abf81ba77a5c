/**
 * Baseline for `GET /livez`: bare `Deno.serve` answering a small JSON body, nothing else.
 * With `BENCH_HEADERS` (a JSON list of `[name, value]`), it also sends those response headers
 * — the bench passes the ones the service sends on `/livez`, a fresh UUID where the value is
 * `*` — to show what the headers alone cost.
 * Usage: `deno run --allow-net --allow-env bench/baselines/bare.ts <port>`.
 *
 * @module
 */
const port = Number(Deno.args[0] ?? "8090");
const BODY = JSON.stringify({ status: "ok" });
const extra = JSON.parse(Deno.env.get("BENCH_HEADERS") ?? "[]") as Array<[string, string]>;
const fixed: Array<[string, string]> = [
  ["content-type", "application/json"],
  ...extra.filter(([name, value]) => name !== "content-type" && value !== "*"),
];
const perRequest = extra.filter(([, value]) => value === "*").map(([name]) => name);

Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => console.log(`bare baseline on ${port}`) },
  perRequest.length === 0
    ? () => new Response(BODY, { headers: fixed })
    : () =>
      new Response(BODY, {
        headers: [
          ...fixed,
          ...perRequest.map((name): [string, string] => [name, crypto.randomUUID()]),
        ],
      }),
);
