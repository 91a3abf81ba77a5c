/**
 * Load shedding: requests over the admission bound are refused at once with 503 and
 * Retry-After; those within it (and the probes) are served.
 */
import { AdmissionGate } from "@/runtime/admission.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { assert, assertEquals } from "./helpers/assert.ts";

Deno.test("AdmissionGate admits up to its bound, queues up to its limit and refuses the rest", async (t) => {
  await t.step("admits maxInFlight at once, then queues, then refuses", async () => {
    const gate = new AdmissionGate({ maxInFlight: 2, queueLimit: 1, queueTimeoutMs: 5_000 });
    assertEquals([gate.enter(), gate.enter()], [true, true]);
    const queued = gate.enter();
    assert(queued instanceof Promise);
    assertEquals(gate.enter(), false);
    assertEquals(gate.waiting, 1);
    gate.leave();
    assertEquals(await queued, true);
    assertEquals([gate.inFlight, gate.waiting], [2, 0]);
    gate.leave();
    gate.leave();
    assertEquals(gate.inFlight, 0);
  });
  await t.step("a request that waits longer than the queue timeout is refused", async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, queueLimit: 5, queueTimeoutMs: 30 });
    assertEquals(gate.enter(), true);
    assertEquals(await gate.enter(), false);
    assertEquals(gate.waiting, 0);
    gate.leave();
    assertEquals(gate.inFlight, 0);
    assertEquals(gate.enter(), true, "the timed-out waiter did not keep a slot");
    gate.leave();
  });
  await t.step("slots go to waiters in arrival order", async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, queueLimit: 3, queueTimeoutMs: 5_000 });
    gate.enter();
    const order: number[] = [];
    const waits = [0, 1, 2].map((i) =>
      (gate.enter() as Promise<boolean>).then((ok) => ok && order.push(i))
    );
    for (let i = 0; i < 4; i++) gate.leave();
    await Promise.all(waits);
    assertEquals(order, [0, 1, 2]);
    assertEquals(gate.inFlight, 0);
  });
});

/** POST /auth/refresh with a body that arrives only when `finish` is called: a request in flight. */
function heldRequest(app: TestApp): { response: Promise<Response>; finish: () => void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) });
  const response = app.request("POST", "/auth/refresh", {
    headers: { "Content-Type": "application/json" },
    body,
  });
  return {
    response,
    finish: () => {
      controller.enqueue(new TextEncoder().encode(`{"refresh_token":"${"x".repeat(43)}"}`));
      controller.close();
    },
  };
}

Deno.test("A request over the admission bound gets 503 with Retry-After at once", async (t) => {
  const app = await createTestApp("sqlite", {
    env: { MAX_IN_FLIGHT_REQUESTS: "1", ADMISSION_QUEUE_LIMIT: "0" },
  });
  try {
    const held = heldRequest(app);
    // Let the held request enter the app and start reading its body.
    await new Promise((resolve) => setTimeout(resolve, 50));
    let heldSettled = false;
    held.response.then(() => (heldSettled = true));

    await t.step(
      "the request beyond the bound is refused while the first is still in flight",
      async () => {
        const res = await app.request("GET", "/roles");
        const problem = await expectProblem(res, 503);
        assertEquals(res.headers.get("retry-after"), "1");
        assertEquals(problem.code, "service_unavailable");
        assert(typeof problem.request_id === "string" && problem.request_id !== "");
        const withId = await app.request("GET", "/roles", {
          headers: { "X-Request-Id": "edge.42" },
        });
        assertEquals((await expectProblem(withId, 503)).request_id, "edge.42");
        assertEquals(withId.headers.get("x-request-id"), "edge.42");
        assertEquals(res.headers.get("x-content-type-options"), "nosniff");
        assertEquals(heldSettled, false, "the refusal waited for the request in flight");
      },
    );

    await t.step("the probes are never shed", async () => {
      for (const path of ["/livez", "/readyz"]) {
        const res = await app.request("GET", path);
        await res.body?.cancel();
        assertEquals(res.status, 200, path);
      }
    });

    await t.step("once the slot is free, requests are served again", async () => {
      held.finish();
      const first = await held.response;
      await first.body?.cancel();
      assertEquals(first.status, 401);
      const res = await app.request("GET", "/roles");
      await res.body?.cancel();
      assertEquals(res.status, 200);
    });
  } finally {
    await app.close();
  }
});

Deno.test("A request within the admission queue waits for a slot, one past its timeout gets 503", async () => {
  const app = await createTestApp("sqlite", {
    env: {
      MAX_IN_FLIGHT_REQUESTS: "1",
      ADMISSION_QUEUE_LIMIT: "1",
      ADMISSION_QUEUE_TIMEOUT: "100ms",
    },
  });
  try {
    const held = heldRequest(app);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Queued, then timed out: the held request never finished in time.
    const timedOut = await app.request("GET", "/roles");
    await expectProblem(timedOut, 503);
    assertEquals(timedOut.headers.get("retry-after"), "1");

    const queued = app.request("GET", "/roles");
    await new Promise((resolve) => setTimeout(resolve, 20));
    held.finish();
    const res = await queued;
    await res.body?.cancel();
    assertEquals(res.status, 200);
    await (await held.response).body?.cancel();
  } finally {
    await app.close();
  }
});
