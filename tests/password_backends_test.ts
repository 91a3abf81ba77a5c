/**
 * The two Argon2id backends (the native binding `@node-rs/argon2` and Web Crypto) compute the
 * same hashes, so stored hashes verify whichever one a machine runs; the service takes the
 * native one where it loads and falls back to Web Crypto, saying why, where it does not.
 * Tests that need the native binding are ignored where it cannot load.
 */
import { hash as bindingPhc } from "@node-rs/argon2";
import { parseConfig } from "@/config.ts";
import { createDeps } from "@/deps.ts";
import { createMetrics } from "@/runtime/metrics.ts";
import {
  choosePasswordBackend,
  NativeArgon2UnavailableError,
} from "@/runtime/password-backends.ts";
import {
  type Argon2Backend,
  type Argon2Params,
  DEFAULT_ARGON2_PARAMS,
  defaultHashQueueLimit,
  formatPhc,
  hashQueueLimits,
  PasswordHasher,
  WEB_CRYPTO_ARGON2,
} from "@/runtime/passwords.ts";
import { ffiScope } from "../scripts/ffi-scope.ts";
import denoJson from "../deno.json" with { type: "json" };
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./helpers/assert.ts";
import { TEST_ARGON2 } from "./helpers/app.ts";
import { taskWords } from "./helpers/tasks.ts";

const SECRET = "a-test-pepper-that-is-at-least-32-characters";
const PASSWORD = "correct horse battery staple";
const encoder = new TextEncoder();

const auto = await choosePasswordBackend("auto");
const NATIVE: Argon2Backend | undefined = auto.backend.name === "native" ? auto.backend : undefined;
const needsNative = { ignore: NATIVE === undefined };
/** Platforms `@node-rs/argon2` 2.2.1 ships a prebuilt binding for (Deno's os-arch names). */
const PREBUILT = new Set([
  "linux-x86_64",
  "linux-aarch64",
  "darwin-x86_64",
  "darwin-aarch64",
  "windows-x86_64",
  "windows-aarch64",
  "freebsd-x86_64",
  "android-aarch64",
]);

function hasher(backend: Argon2Backend, params: Argon2Params = TEST_ARGON2): PasswordHasher {
  return new PasswordHasher(SECRET, params, 1, undefined, backend);
}

const failingLoader = () => Promise.reject(new Error("no build of the binding for this platform"));

Deno.test({
  name: "the native binding loads on every platform it ships a build for",
  ignore: !PREBUILT.has(`${Deno.build.os}-${Deno.build.arch}`),
  fn() {
    assertEquals(auto.fallbackReason, undefined);
    assertEquals(auto.backend.name, "native");
  },
});

Deno.test({
  name: "a hash written through Web Crypto verifies with the native binding, and the reverse",
  ...needsNative,
  async fn() {
    // The service's own parameters: what real stored hashes use.
    const web = hasher(WEB_CRYPTO_ARGON2, DEFAULT_ARGON2_PARAMS);
    const native = hasher(NATIVE!, DEFAULT_ARGON2_PARAMS);
    const byWeb = await web.hash(PASSWORD);
    const byNative = await native.hash(PASSWORD);
    assertEquals(await native.verify(PASSWORD, byWeb), { valid: true, needsRehash: false });
    assertEquals(await web.verify(PASSWORD, byNative), { valid: true, needsRehash: false });
    assertEquals((await native.verify("wrong password!", byWeb)).valid, false);
    assertEquals((await web.verify("wrong password!", byNative)).valid, false);
  },
});

Deno.test({
  name:
    "both backends write byte-identical PHC strings for the same salt, as the binding's own encoder does",
  ...needsNative,
  async fn() {
    const salt = encoder.encode("a-fixed-salt-16B");
    const pepper = encoder.encode(SECRET);
    const password = encoder.encode(PASSWORD);
    const params = DEFAULT_ARGON2_PARAMS;
    const phcs = await Promise.all(
      [WEB_CRYPTO_ARGON2, NATIVE!].map(async (backend) =>
        formatPhc(params, salt, await backend.argon2id(password, salt, params, pepper, 32))
      ),
    );
    const independent = await bindingPhc(PASSWORD, {
      memoryCost: params.memory,
      timeCost: params.passes,
      parallelism: params.parallelism,
      salt,
      secret: pepper,
    });
    assertEquals(phcs[0], phcs[1]);
    assertEquals(phcs[0], independent);
  },
});

Deno.test({
  name:
    "both backends agree on non-ASCII, long and lone-surrogate passwords, other lengths and lanes",
  ...needsNative,
  async fn() {
    const cases: Array<[string, Argon2Params, number]> = [
      ["pässwörd 密码 🔑", TEST_ARGON2, 32],
      ["x".repeat(128), TEST_ARGON2, 16],
      // Hashed as its UTF-8 replacement by both (new passwords like this are refused anyway).
      ["lone \ud800 surrogate", TEST_ARGON2, 32],
      ["two lanes", { memory: 512, passes: 2, parallelism: 2 }, 64],
    ];
    const pepper = encoder.encode(SECRET);
    for (const [password, params, length] of cases) {
      const salt = crypto.getRandomValues(new Uint8Array(16));
      const [web, native] = await Promise.all(
        [WEB_CRYPTO_ARGON2, NATIVE!].map((backend) =>
          backend.argon2id(encoder.encode(password), salt, params, pepper, length)
        ),
      );
      assertEquals(native, web, password);
      assertEquals(native!.length, length);
    }
  },
});

Deno.test({
  name: "each backend still checks the pepper: a hash verifies under no other SECRET_KEY",
  ...needsNative,
  async fn() {
    const phc = await hasher(WEB_CRYPTO_ARGON2).hash(PASSWORD);
    const rotated = new PasswordHasher(`${SECRET}-rotated`, TEST_ARGON2, 1, undefined, NATIVE!);
    assertEquals((await rotated.verify(PASSWORD, phc)).valid, false);
  },
});

Deno.test("auto falls back to Web Crypto, saying why, when the native binding cannot load", async () => {
  const choice = await choosePasswordBackend("auto", { loadNative: failingLoader });
  assertEquals(choice.backend, WEB_CRYPTO_ARGON2);
  assertEquals(choice.fallbackReason, "no build of the binding for this platform");
  // The fallback hashes and verifies as usual.
  const fallback = hasher(choice.backend);
  assertEquals(fallback.backend, "webcrypto");
  assert((await fallback.verify(PASSWORD, await fallback.hash(PASSWORD))).valid);
});

Deno.test("a denied --allow-ffi is the reason given, not the binding's generic message", async () => {
  const denied = new Error("Cannot find native binding. npm has a bug related to optional deps", {
    cause: new Error('Requires ffi access to "/cache/@node-rs/argon2-x/argon2.node"', {
      cause: new Error("Cannot find module '@node-rs/argon2-wasm32-wasi'"),
    }),
  });
  const choice = await choosePasswordBackend("auto", { loadNative: () => Promise.reject(denied) });
  assertEquals(
    choice.fallbackReason,
    'Requires ffi access to "/cache/@node-rs/argon2-x/argon2.node"',
  );
});

Deno.test("PASSWORD_HASHER=native refuses to go on without the native binding", async () => {
  const error = await assertRejects(
    () => choosePasswordBackend("native", { loadNative: failingLoader }),
    NativeArgon2UnavailableError,
  );
  assertStringIncludes(error.message, "no build of the binding for this platform");
});

Deno.test("PASSWORD_HASHER=webcrypto never loads the native binding", async () => {
  let loads = 0;
  const choice = await choosePasswordBackend("webcrypto", {
    loadNative: () => (loads++, failingLoader()),
  });
  assertEquals([choice.backend.name, loads], ["webcrypto", 0]);
});

Deno.test("a native backend whose output differs from Web Crypto's is not used", async () => {
  const wrong: Argon2Backend = {
    name: "native",
    argon2id: async (...args) => (await WEB_CRYPTO_ARGON2.argon2id(...args)).map((b) => b ^ 1),
  };
  const choice = await choosePasswordBackend("auto", { loadNative: () => Promise.resolve(wrong) });
  assertEquals(choice.backend, WEB_CRYPTO_ARGON2);
  assertStringIncludes(choice.fallbackReason!, "differs from Web Crypto");
});

Deno.test({
  name: "the hash queue bounds and round-robin hold on the native backend too",
  ...needsNative,
  async fn() {
    // Hold each derivation until released, so the queue's state is known at each step.
    const gates: Array<() => void> = [];
    let running = 0;
    let peak = 0;
    const gated: Argon2Backend = {
      name: "native",
      async argon2id(...args) {
        await new Promise<void>((resolve) => gates.push(resolve));
        running++;
        peak = Math.max(peak, running);
        try {
          return await NATIVE!.argon2id(...args);
        } finally {
          running--;
        }
      },
    };
    const queued = new PasswordHasher(SECRET, TEST_ARGON2, 1, {
      maxWaiting: 3,
      maxWaitingPerClient: 2,
    }, gated);
    const phc = await hasher(NATIVE!).hash(PASSWORD);
    const done: string[] = [];
    const verify = (label: string, client: string) =>
      queued.verify("guess", phc, { client }).then(() => done.push(label));
    const a = [verify("a1", "A"), verify("a2", "A"), verify("a3", "A")];
    const refusedClient = await verify("a4", "A").then(() => undefined, (e: unknown) => e);
    assertEquals((refusedClient as { scope?: string })?.scope, "client");
    const b = verify("b1", "B");
    const refusedAll = await verify("c1", "C").then(() => undefined, (e: unknown) => e);
    assertEquals((refusedAll as { scope?: string })?.scope, "all");
    while (done.length < 4) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      gates.shift()?.();
    }
    await Promise.all([...a, b]);
    assertEquals(done, ["a1", "a2", "b1", "a3"]);
    assertEquals(peak, 1);
  },
});

Deno.test("PASSWORD_HASHER is auto unless set, and only auto, native or webcrypto", () => {
  const base = { APP_ENV: "test", DATABASE_URL: "sqlite::memory:" };
  assertEquals(parseConfig(base).auth.passwordHasher, "auto");
  for (const value of ["auto", "native", "webcrypto"] as const) {
    assertEquals(parseConfig({ ...base, PASSWORD_HASHER: value }).auth.passwordHasher, value);
  }
  let problem = "";
  try {
    parseConfig({ ...base, PASSWORD_HASHER: "bcrypt" });
  } catch (error) {
    problem = (error as Error).message;
  }
  assertStringIncludes(problem, "PASSWORD_HASHER");
});

Deno.test({
  name: "createDeps hashes on the backend PASSWORD_HASHER names and exports it on /metrics",
  async fn() {
    const settings = NATIVE ? ["webcrypto", "native"] as const : ["webcrypto"] as const;
    for (const setting of settings) {
      const config = parseConfig({
        APP_ENV: "test",
        DATABASE_URL: "sqlite::memory:",
        PASSWORD_HASHER: setting,
        SECRET_KEY: SECRET,
        ADMIN_PASSWORD: "backend-test-admin-password",
      });
      const deps = await createDeps(config, { refreshVersions: false });
      try {
        assertEquals(deps.passwords.backend, setting);
        const text = await deps.metrics.registry.metrics();
        assertStringIncludes(text, `password_hash_backend_info{backend="${setting}"} 1`);
      } finally {
        await deps.close();
      }
    }
  },
});

Deno.test("an unset PASSWORD_HASH_QUEUE_LIMIT lets 32 hashes wait on Web Crypto, 128 on the native binding", () => {
  const base = { APP_ENV: "test", DATABASE_URL: "sqlite::memory:" };
  assertEquals(parseConfig(base).auth.hashQueueLimit, undefined);
  assertEquals(parseConfig({ ...base, PASSWORD_HASH_QUEUE_LIMIT: "40" }).auth.hashQueueLimit, 40);
  assertEquals(defaultHashQueueLimit("webcrypto"), 32);
  assertEquals(defaultHashQueueLimit("native"), 128);
  // A quarter of it per client, as before.
  assertEquals(hashQueueLimits(defaultHashQueueLimit("native")).maxWaitingPerClient, 32);
});

Deno.test("the backend gauge is left out when no backend is named", async () => {
  const metrics = createMetrics({ version: "test" });
  assert(!(await metrics.registry.metrics()).includes("password_hash_backend_info"));
});

Deno.test("the tasks grant --allow-ffi for the binding's @node-rs folder only", async () => {
  for (const name of ["dev", "start", "cli"] as const) {
    const flags = (await taskWords(denoJson.tasks[name])).filter((w) =>
      w.startsWith("--allow-ffi")
    );
    assertEquals(flags.length, 1, name);
    const scope = flags[0]!.slice("--allow-ffi=".length);
    assert(/[\\/]@node-rs$/.test(scope), `${name}: --allow-ffi=${scope}`);
  }
  assertEquals(
    ffiScope("file:///home/me/.cache/deno/npm/registry.npmjs.org/@node-rs/argon2/2.2.1/index.js"),
    "/home/me/.cache/deno/npm/registry.npmjs.org/@node-rs",
  );
});

Deno.test({
  name: "a process without --allow-ffi for the binding hashes through Web Crypto and says why",
  ignore: NATIVE === undefined,
  async fn() {
    const code = `
      import { choosePasswordBackend } from "@/runtime/password-backends.ts";
      const { backend, fallbackReason } = await choosePasswordBackend("auto");
      console.log(JSON.stringify({ backend: backend.name, fallbackReason }));`;
    const script = await Deno.makeTempFile({ prefix: "items-api-backend-", suffix: ".ts" });
    await Deno.writeTextFile(script, code);
    const run = (ffi: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--config=deno.json",
          "--no-prompt",
          "--allow-read",
          "--allow-env",
          ...ffi,
          script,
        ],
        cwd: new URL("..", import.meta.url),
        stdout: "piped",
        stderr: "piped",
      }).output();
    try {
      const denied = await run(["--allow-ffi=/nowhere"]);
      const answer = JSON.parse(new TextDecoder().decode(denied.stdout));
      assertEquals(answer.backend, "webcrypto", new TextDecoder().decode(denied.stderr));
      assertStringIncludes(answer.fallbackReason, "Requires ffi access");
      // Scoped to the folder the tasks grant, it loads.
      const scope = (await taskWords(denoJson.tasks.cli)).find((w) =>
        w.startsWith("--allow-ffi=")
      )!;
      const granted = await run([scope]);
      assertEquals(JSON.parse(new TextDecoder().decode(granted.stdout)).backend, "native");
    } finally {
      await Deno.remove(script);
    }
  },
});
