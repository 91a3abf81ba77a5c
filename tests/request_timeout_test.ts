import { Hono } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";
import { AppError } from "@/http/errors.ts";
import { requestTimeout } from "@/middleware/request-timeout.ts";
import { assertEquals } from "./helpers/assert.ts";

/** An app whose `/slow/:n` answers only when the test releases request n. */
function slowApp(timeoutMs: number) {
  const releases = new Map<string, () => void>();
  const app = new Hono<AppEnv>()
    .use(requestTimeout({ timeoutMs }))
    .get("/fast", (c) => c.text("fast"))
    .get("/slow/:n", async (c) => {
      await new Promise<void>((resolve) => releases.set(c.req.param("n"), resolve));
      return c.text("slow");
    });
  app.onError((error) =>
    new Response(error.message, { status: error instanceof AppError ? error.status : 500 })
  );
  const release = () => {
    for (const resolve of releases.values()) resolve();
  };
  return { app, release };
}

Deno.test("requestTimeout() answers 503 for each stuck request while others finish, one timer for all", async () => {
  const { app, release } = slowApp(50);
  try {
    const first = app.request("/slow/1");
    const fast = await Promise.all(Array.from({ length: 20 }, () => app.request("/fast")));
    for (const res of fast) assertEquals([res.status, await res.text()], [200, "fast"]);
    const second = app.request("/slow/2");
    const [a, b] = await Promise.all([first, second]);
    assertEquals([a.status, await a.text()], [503, "Request took longer than 50 ms"]);
    assertEquals([b.status, await b.text()], [503, "Request took longer than 50 ms"]);
    // Work resumes normally after expiries: the watch re-arms for new requests.
    const third = app.request("/slow/3");
    assertEquals((await third).status, 503);
    assertEquals((await app.request("/fast")).status, 200);
  } finally {
    release();
  }
  // The test sanitizers fail this test if a timer outlived the requests.
});

Deno.test("requestTimeout() leaves a request alone that finishes in time", async () => {
  const { app, release } = slowApp(60_000);
  const pending = app.request("/slow/1");
  await new Promise((resolve) => setTimeout(resolve, 10));
  release();
  const res = await pending;
  assertEquals([res.status, await res.text()], [200, "slow"]);
});
