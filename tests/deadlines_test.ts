/**
 * The shared deadline queue behind the request timeout and the database deadlines.
 */
import { DeadlineQueue, raceDeadline } from "@/runtime/deadlines.ts";
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a deadline that is not removed expires after its length", async () => {
  const queue = new DeadlineQueue(30);
  const started = performance.now();
  const expiredAfter = await new Promise<number>((resolve) => {
    queue.add(() => resolve(performance.now() - started));
  });
  assert(expiredAfter >= 29, `expired after ${expiredAfter} ms`);
  assertEquals(queue.size, 0);
});

Deno.test("a removed deadline never expires", async () => {
  const queue = new DeadlineQueue(20);
  let expired = 0;
  const deadline = queue.add(() => expired++);
  queue.remove(deadline);
  await delay(60);
  assertEquals(expired, 0);
  assertEquals(queue.size, 0);
});

Deno.test("deadlines expire in the order they were set, each at its own time", async () => {
  const queue = new DeadlineQueue(40);
  const started = performance.now();
  const expired: Array<[string, number]> = [];
  const done = Promise.withResolvers<void>();
  queue.add(() => expired.push(["first", performance.now() - started]));
  await delay(25);
  const removed = queue.add(() => expired.push(["removed", performance.now() - started]));
  queue.add(() => {
    expired.push(["second", performance.now() - started]);
    done.resolve();
  });
  queue.remove(removed);
  await done.promise;
  assertEquals(expired.map(([name]) => name), ["first", "second"]);
  assert(expired[1]![1] >= 64, `second expired after ${expired[1]![1]} ms, before its 40 ms`);
});

Deno.test("a deadline added after the queue went idle still expires", async () => {
  const queue = new DeadlineQueue(20);
  queue.remove(queue.add(() => {}));
  await delay(50); // the shared timer woke up, found nothing and stopped
  const error = await assertRejects(
    () => raceDeadline(new Promise(() => {}), queue, () => new Error("too slow")),
    Error,
  );
  assertEquals(error.message, "too slow");
});

Deno.test("raceDeadline() settles like the promise when it is in time", async () => {
  const queue = new DeadlineQueue(1_000);
  assertEquals(await raceDeadline(Promise.resolve(7), queue, () => new Error("late")), 7);
  const error = await assertRejects(
    () => raceDeadline(Promise.reject(new TypeError("own")), queue, () => new Error("late")),
    TypeError,
  );
  assertEquals(error.message, "own");
  assertEquals(queue.size, 0);
  // The test ends with the shared timer still armed for ~1 s: it must not hold the process
  // (the test sanitizer fails a test that leaves a referenced timer behind).
});

Deno.test("removing the oldest, newest and middle deadlines leaves the others expiring in order", async () => {
  const queue = new DeadlineQueue(20);
  const expired: number[] = [];
  const done = Promise.withResolvers<void>();
  const deadlines = [0, 1, 2, 3, 4].map((n) =>
    queue.add(() => {
      expired.push(n);
      if (n === 3) done.resolve();
    })
  );
  queue.remove(deadlines[0]!);
  queue.remove(deadlines[4]!);
  queue.remove(deadlines[2]!);
  queue.remove(deadlines[2]!); // twice: nothing more happens
  assertEquals(queue.size, 2);
  await done.promise;
  assertEquals(expired, [1, 3]);
  assertEquals(queue.size, 0);
  queue.remove(deadlines[1]!); // after it expired: nothing happens
  assertEquals(queue.size, 0);
  const later = queue.add(() => expired.push(5));
  queue.remove(later);
  await delay(40);
  assertEquals(expired, [1, 3]);
});
