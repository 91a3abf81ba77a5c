/** Linking provider identities to local users, on both databases. */
import { assert, assertEquals, assertNotEquals } from "./helpers/assert.ts";
import { createTestDatabase, DIALECTS } from "./helpers/databases.ts";
import { migrate } from "@/db/migrate.ts";
import { PasswordHasher } from "@/runtime/passwords.ts";
import { TEST_ARGON2 } from "./helpers/app.ts";
import { findIdentityUser } from "@/modules/oidc/identities.repository.ts";
import { linkedUser, NO_PASSWORD_HASH } from "@/modules/oidc/oidc-users.ts";
import { findUserWithHashById, insertUser, updateUser } from "@/modules/users/users.repository.ts";

const ISSUER = "https://id.example.com";

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] The first token of an identity creates one local user without a password`, async (t) => {
    const database = await createTestDatabase(dialect);
    const { db } = database;
    try {
      await migrate(db);
      const now = new Date();
      const subject = `sub-${crypto.randomUUID()}`;

      await t.step("the first token creates the user with the token's role", async () => {
        const linked = await linkedUser(db, {
          issuer: ISSUER,
          subject,
          username: "Zoë Müller",
          role: "admin",
        }, now);
        assertEquals(linked.user.username, "Zoe_Muller");
        assertEquals(linked.user.role, "admin");
        assertEquals(linked.user.activated, true);
        const stored = await findUserWithHashById(db, linked.user.id);
        assertEquals(stored?.passwordHash, NO_PASSWORD_HASH);
        const hasher = new PasswordHasher("x".repeat(32), TEST_ARGON2);
        assertEquals((await hasher.verify("", NO_PASSWORD_HASH)).valid, false);
        assertEquals((await hasher.verify(NO_PASSWORD_HASH, NO_PASSWORD_HASH)).valid, false);
        // Such a login still spends one Argon2id run, like a wrong password.
        let dummyRuns = 0;
        const dummy = hasher.verifyDummy.bind(hasher);
        hasher.verifyDummy = (password) => {
          dummyRuns++;
          return dummy(password);
        };
        await hasher.verify("guess", NO_PASSWORD_HASH);
        assertEquals(dummyRuns, 1);
      });

      await t.step("later tokens find the same user", async () => {
        const first = await findIdentityUser(db, ISSUER, subject);
        const again = await linkedUser(db, {
          issuer: ISSUER,
          subject,
          username: "renamed",
          role: "user",
        }, now);
        assertEquals(again.user.id, first?.user.id);
        assertEquals(again.user.username, "Zoe_Muller", "the username is set once");
      });

      await t.step("the subject is compared exactly (case-sensitive)", async () => {
        const other = await linkedUser(db, {
          issuer: ISSUER,
          subject: subject.toUpperCase(),
          username: "zoe_muller",
          role: "user",
        }, now);
        const first = await findIdentityUser(db, ISSUER, subject);
        assertNotEquals(other.user.id, first?.user.id);
        assert(/^zoe_muller-[a-z0-9]{6}$/.test(other.user.username), other.user.username);
      });

      await t.step("the same subject from another issuer is another user", async () => {
        const other = await linkedUser(db, {
          issuer: `${ISSUER}/other`,
          subject,
          username: "Zoe_Muller",
          role: "user",
        }, now);
        const first = await findIdentityUser(db, ISSUER, subject);
        assertNotEquals(other.user.id, first?.user.id);
      });

      await t.step("a taken username, even in another case, gets a suffix", async () => {
        await insertUser(db, { username: "admin", passwordHash: "x", roleId: 1, now });
        const linked = await linkedUser(db, {
          issuer: ISSUER,
          subject: `sub-${crypto.randomUUID()}`,
          username: "ADMIN",
          role: "user",
        }, now);
        assert(/^ADMIN-[a-z0-9]{6}$/.test(linked.user.username), linked.user.username);
      });

      await t.step("a deactivated linked user stays linked, and is found deactivated", async () => {
        const claims = {
          issuer: ISSUER,
          subject: `sub-${crypto.randomUUID()}`,
          username: "leaver",
          role: "user" as const,
        };
        const linked = await linkedUser(db, claims, now);
        await updateUser(db, linked.user.id, { activated: false }, now);
        const again = await linkedUser(db, claims, now);
        assertEquals(again.user.id, linked.user.id);
        assertEquals(again.user.activated, false);
      });
    } finally {
      await database.drop();
    }
  });

  Deno.test(`[${dialect}] Concurrent first tokens of one identity link a single user`, async () => {
    const database = await createTestDatabase(dialect, { file: true });
    const { db } = database;
    try {
      await migrate(db);
      const subject = `sub-${crypto.randomUUID()}`;
      const claims = { issuer: ISSUER, subject, username: "racer", role: "user" as const };
      const results = await Promise.all(
        Array.from({ length: 8 }, () => linkedUser(db, claims, new Date())),
      );
      assertEquals(new Set(results.map((r) => r.user.id)).size, 1);
      const rows = await db.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM users WHERE username LIKE 'racer%'",
      );
      assertEquals(Number(rows[0]?.n), 1);
    } finally {
      await database.drop();
    }
  });
}
