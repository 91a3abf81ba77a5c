/**
 * `deno run -A bench/passwords.ts [--rounds N] [--hashes N]`: what one password hash costs on
 * each Argon2id backend, in one run, at the service's parameters (m=19456 KiB, t=2, p=1):
 * milliseconds per hash one at a time, and hashes per second with the service's slots
 * (cores − 1) busy. The backends alternate round by round and each figure is the median of the
 * rounds, so a neighbour's load spreads over both. Reported, not asserted. The native backend is
 * measured where it loads (it needs `--allow-ffi`; `-A` grants it); a hash from each backend is
 * checked against the other first.
 *
 * Then a login burst against the hashing queue: `--burst` verifications at once from clients
 * sending 4 each, with the service's slots and `PASSWORD_HASH_QUEUE_LIMIT` of 32 (the default)
 * and 128: how many are refused (429/503) and how long the last accepted one took.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { choosePasswordBackend } from "@/runtime/password-backends.ts";
import {
  type Argon2Backend,
  DEFAULT_ARGON2_PARAMS,
  HashQueueFullError,
  hashQueueLimits,
  PasswordHasher,
  WEB_CRYPTO_ARGON2,
} from "@/runtime/passwords.ts";

const SECRET = "bench-secret-key-of-at-least-32-characters";
const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "7" },
    hashes: { type: "string", default: "10" },
    burst: { type: "string", default: "160" },
  },
  strict: true,
});
const ROUNDS = Number(values.rounds);
const HASHES = Number(values.hashes);
const BURST = Number(values.burst);
const SLOTS = Math.max(1, (navigator.hardwareConcurrency || 1) - 1);

const backends: Argon2Backend[] = [WEB_CRYPTO_ARGON2];
const native = await choosePasswordBackend("auto");
if (native.backend.name === "native") backends.push(native.backend);
else console.error(`native backend unavailable: ${native.fallbackReason}`);

const hashers = backends.map((backend) =>
  new PasswordHasher(SECRET, DEFAULT_ARGON2_PARAMS, SLOTS, {
    maxWaiting: 1e6,
    maxWaitingPerClient: 1e6,
  }, backend)
);
// Same algorithm, same bytes: each backend verifies the other's hash.
for (const writer of hashers) {
  const phc = await writer.hash("correct horse battery staple");
  for (const reader of hashers) {
    const { valid } = await reader.verify("correct horse battery staple", phc);
    if (!valid) throw new Error(`${reader.backend} does not verify a hash by ${writer.backend}`);
  }
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const hasher of hashers) {
  for (let i = 0; i < 3; i++) await hasher.hash("warm-up password"); // JIT, allocator, threads
}
const sequential = hashers.map(() => [] as number[]);
const parallel = hashers.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, hasher] of hashers.entries()) {
    let start = performance.now();
    for (let n = 0; n < HASHES; n++) await hasher.hash(`password ${n}`);
    sequential[i]!.push((performance.now() - start) / HASHES);
    start = performance.now();
    await Promise.all(Array.from({ length: HASHES }, (_, n) => hasher.hash(`password ${n}`)));
    parallel[i]!.push(HASHES / ((performance.now() - start) / 1000));
  }
}
const rows = hashers.map((hasher, i) => ({
  backend: hasher.backend,
  msPerHash: median(sequential[i]!),
  hashesPerSecond: median(parallel[i]!),
}));

console.log(
  `Argon2id m=${DEFAULT_ARGON2_PARAMS.memory} t=${DEFAULT_ARGON2_PARAMS.passes} ` +
    `p=${DEFAULT_ARGON2_PARAMS.parallelism}; median of ${ROUNDS} rounds of ${HASHES} hashes; ` +
    `${SLOTS} slot(s) ` +
    `(${navigator.hardwareConcurrency} cores); Deno ${Deno.version.deno}`,
);
console.log("| backend   | ms per hash (one at a time) | hashes/s (all slots busy) |");
console.log("| --------- | --------------------------- | ------------------------- |");
for (const row of rows) {
  console.log(
    `| ${row.backend.padEnd(9)} | ${row.msPerHash.toFixed(1).padStart(27)} | ${
      row.hashesPerSecond.toFixed(1).padStart(25)
    } |`,
  );
}
if (rows.length === 2) {
  console.log(`native is ${(rows[0]!.msPerHash / rows[1]!.msPerHash).toFixed(1)}× faster per hash`);
}

// A login burst: everyone at once, 4 guesses per client, against each queue limit.
console.log(`\nA burst of ${BURST} verifications (${BURST / 4} clients x 4) on ${SLOTS} slot(s):`);
console.log("| backend   | queue limit | refused | last accepted done after ms |");
console.log("| --------- | ----------: | ------: | --------------------------: |");
for (const backend of backends) {
  for (const limit of [32, 128]) {
    const queued = new PasswordHasher(
      SECRET,
      DEFAULT_ARGON2_PARAMS,
      SLOTS,
      hashQueueLimits(limit),
      backend,
    );
    const phc = await queued.hash("the right password");
    const start = performance.now();
    let refused = 0;
    let last = 0;
    await Promise.all(
      Array.from(
        { length: BURST },
        (_, i) =>
          queued.verify(`guess ${i}`, phc, { client: `client-${i % (BURST / 4)}` }).then(
            () => (last = Math.max(last, performance.now() - start)),
            (error) => {
              if (!(error instanceof HashQueueFullError)) throw error;
              refused++;
            },
          ),
      ),
    );
    console.log(
      `| ${backend.name.padEnd(9)} | ${String(limit).padStart(11)} | ${
        String(refused).padStart(7)
      } | ${last.toFixed(0).padStart(27)} |`,
    );
  }
}
