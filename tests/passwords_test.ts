import { assert, assertEquals, assertNotEquals } from "./helpers/assert.ts";
import {
  DEFAULT_ARGON2_PARAMS,
  generatePassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  PasswordHasher,
} from "@/runtime/passwords.ts";
import { generateToken, hashToken, toBase64Url, TOKEN_PATTERN } from "@/runtime/tokens.ts";
import { TEST_ARGON2 } from "./helpers/app.ts";

const SECRET = "a-test-pepper-that-is-at-least-32-characters";

Deno.test("PasswordHasher.hash() produces an Argon2id PHC string with the configured parameters", async () => {
  const hasher = new PasswordHasher(SECRET, TEST_ARGON2);
  const phc = await hasher.hash("correct horse battery staple");
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/
    .exec(phc);
  assert(match, `not a PHC string: ${phc}`);
  assertEquals(
    [Number(match[1]), Number(match[2]), Number(match[3])],
    [TEST_ARGON2.memory, TEST_ARGON2.passes, TEST_ARGON2.parallelism],
  );
  // 16-byte salt and 32-byte hash, base64 without padding.
  assertEquals(match[4]!.length, 22);
  assertEquals(match[5]!.length, 43);
});

Deno.test("PasswordHasher.hash() salts every hash differently", async () => {
  const hasher = new PasswordHasher(SECRET, TEST_ARGON2);
  assertNotEquals(await hasher.hash("same password"), await hasher.hash("same password"));
});

Deno.test("PasswordHasher.verify() accepts the password and rejects anything else", async () => {
  const hasher = new PasswordHasher(SECRET, TEST_ARGON2);
  const phc = await hasher.hash("correct horse battery staple");
  assertEquals(await hasher.verify("correct horse battery staple", phc), {
    valid: true,
    needsRehash: false,
  });
  assertEquals((await hasher.verify("correct horse battery stapl", phc)).valid, false);
  assertEquals((await hasher.verify("", phc)).valid, false);
  assertEquals((await hasher.verify("x", "not a phc string")).valid, false);
  assertEquals((await hasher.verify("x", "$argon2id$v=19$m=256,t=1,p=1$AAAA$")).valid, false);
});

Deno.test("PasswordHasher.verify() fails under another pepper: SECRET_KEY is Argon2's secret input", async () => {
  const phc = await new PasswordHasher(SECRET, TEST_ARGON2).hash("correct horse battery staple");
  const other = new PasswordHasher(`${SECRET}-rotated`, TEST_ARGON2);
  assertEquals((await other.verify("correct horse battery staple", phc)).valid, false);
});

Deno.test("PasswordHasher.verify() asks for a rehash of a hash made with weaker parameters", async () => {
  const weak = new PasswordHasher(SECRET, { memory: 64, passes: 1, parallelism: 1 });
  const strong = new PasswordHasher(SECRET, TEST_ARGON2);
  const phc = await weak.hash("correct horse battery staple");
  assertEquals(await strong.verify("correct horse battery staple", phc), {
    valid: true,
    needsRehash: true,
  });
  // A wrong password never asks for a rehash.
  assertEquals(await strong.verify("wrong password", phc), { valid: false, needsRehash: false });
});

Deno.test("PasswordHasher.verifyDummy() runs a verification without a stored hash", async () => {
  const hasher = new PasswordHasher(SECRET, TEST_ARGON2);
  await hasher.verifyDummy("any password");
  await hasher.verifyDummy("another one");
});

Deno.test("the production Argon2id parameters are OWASP's minimum: 19 MiB, 2 passes, 1 lane", () => {
  assertEquals(DEFAULT_ARGON2_PARAMS, { memory: 19_456, passes: 2, parallelism: 1 });
  assertEquals([PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH], [8, 128]);
});

Deno.test("generatePassword() returns 20 CSPRNG characters without look-alikes by default", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const password = generatePassword();
    assertEquals(password.length, 20);
    assert(/^[A-HJ-NP-Za-km-z2-9]+$/.test(password), `unexpected characters in ${password}`);
    seen.add(password);
  }
  assertEquals(seen.size, 50);
  assert(generatePassword(16).length === 16);
});

Deno.test("generateToken() returns 256 random bits as 43 base64url characters", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const token = generateToken();
    assert(TOKEN_PATTERN.test(token), `not base64url: ${token}`);
    seen.add(token);
  }
  assertEquals(seen.size, 100);
});

Deno.test("toBase64Url() uses the URL-safe alphabet without padding", () => {
  assertEquals(toBase64Url(new Uint8Array([0xfb, 0xff, 0xfe])), "-__-");
  assertEquals(toBase64Url(new Uint8Array([0x61])), "YQ");
});

Deno.test("hashToken() is SHA-256 in lowercase hex", async () => {
  assertEquals(
    await hashToken("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
