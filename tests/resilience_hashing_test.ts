/**
 * A login flood must not take every core from the event loop, nor 19 MiB per concurrent
 * Argon2id: the hasher runs a bounded number of hashes at once and queues the rest.
 */
import { PasswordHasher } from "@/runtime/passwords.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { TEST_ARGON2 } from "./helpers/app.ts";

const SECRET = "test-secret-key-that-is-at-least-32-characters";

/** Count how many Argon2id derivations run at the same time while `fn` runs. */
async function peakConcurrency(fn: () => Promise<unknown>): Promise<number> {
  const subtle = crypto.subtle;
  const original = subtle.deriveBits;
  let running = 0;
  let peak = 0;
  subtle.deriveBits = async function (this: SubtleCrypto, ...args) {
    running++;
    peak = Math.max(peak, running);
    try {
      // Hold the slot across a macrotask, so overlapping calls would be seen.
      await new Promise((resolve) => setTimeout(resolve, 1));
      return await original.apply(this, args);
    } finally {
      running--;
    }
  } as typeof subtle.deriveBits;
  try {
    await fn();
  } finally {
    subtle.deriveBits = original;
  }
  return peak;
}

Deno.test("PasswordHasher runs at most `concurrency` hashes at once and queues the rest in order", async () => {
  for (const concurrency of [1, 2]) {
    const hasher = new PasswordHasher(SECRET, TEST_ARGON2, concurrency);
    const phc = await hasher.hash("correct horse battery staple");
    let results: boolean[] = [];
    const peak = await peakConcurrency(async () => {
      results = await Promise.all(
        Array.from(
          { length: 8 },
          async (_, i) =>
            (await hasher.verify(i % 2 ? "wrong password" : "correct horse battery staple", phc))
              .valid,
        ),
      );
    });
    assertEquals(peak, concurrency);
    assertEquals(results, [true, false, true, false, true, false, true, false]);
  }
});

Deno.test("PasswordHasher frees its slot when a hash fails", async () => {
  const hasher = new PasswordHasher(SECRET, TEST_ARGON2, 1);
  const subtle = crypto.subtle;
  const original = subtle.deriveBits;
  subtle.deriveBits = (() => Promise.reject(new Error("boom"))) as typeof subtle.deriveBits;
  try {
    let failed = false;
    await hasher.hash("x").catch(() => (failed = true));
    assert(failed, "the failing hash did not reject");
  } finally {
    subtle.deriveBits = original;
  }
  // The single slot is free again: this would wait forever otherwise.
  assert((await hasher.hash("still works")).startsWith("$argon2id$"));
});
