/**
 * The audit trail: privileged changes are recorded in the transaction that makes them, with who
 * (user, sign-in method, credential), what (action, target, fields before and after), when and
 * from where; admins read it with `GET /audit-events`; nothing changes it over HTTP; secrets
 * never reach it; the purge applies AUDIT_RETENTION.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, login, loginAdmin } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { runTokenPurge } from "@/cron/purge-expired-tokens.ts";
import { breakGlass } from "@/modules/users/break-glass.ts";

type Event = Record<string, unknown> & { action: string; changes: Record<string, unknown> | null };

async function events(t: TestApp, token: string, query = ""): Promise<Event[]> {
  const res = await t.request("GET", `/audit-events${query}`, { headers: bearer(token) });
  const text = await res.text();
  assertEquals(res.status, 200, text);
  return JSON.parse(text).events;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] privileged changes are recorded with who, what, when and where`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const admin = await loginAdmin(t);
      const auth = bearer(admin.access_token);
      const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
      let userId = 0;

      await s.step(
        "a user created by an admin: the actor, the request and the fields",
        async () => {
          const res = await t.request("POST", "/users", {
            headers: {
              ...auth,
              "X-Request-Id": "audit-req-1",
              traceparent: `00-${trace}-00f067aa0ba902b7-01`,
            },
            json: { username: "audited", role_id: 2, password: "audited-password-1" },
          });
          userId = (await res.json()).id;
          const [event] = await events(t, admin.access_token, "?action=user.created");
          assertEquals(event!.actor_user_id, admin.user_id);
          assertEquals(event!.auth_method, "session");
          assert(String(event!.credential).startsWith("session:"));
          assertEquals(event!.target_type, "user");
          assertEquals(event!.target_id, String(userId));
          assertEquals(event!.request_id, "audit-req-1");
          assertEquals(event!.trace_id, trace);
          assertEquals(event!.client_ip, "127.0.0.1");
          assertEquals(event!.changes, {
            username: { before: null, after: "audited" },
            role_id: { before: null, after: 2 },
            role: { before: null, after: "user" },
            activated: { before: null, after: true },
          });
        },
      );

      await s.step(
        "promotion, demotion and deactivation, with the sessions it revoked",
        async () => {
          const user = await login(t, "audited", "audited-password-1");
          const promote = await t.request("PATCH", `/users/${userId}`, {
            headers: auth,
            json: { role_id: 1 },
          });
          assertEquals(promote.status, 200, await promote.text());
          // An admin account is changed only by its owner: the new admin steps down.
          const demote = await t.request("PATCH", `/users/${userId}`, {
            headers: bearer(user.access_token),
            json: { role_id: 2 },
          });
          assertEquals(demote.status, 200, await demote.text());
          const del = await t.request("DELETE", `/users/${userId}`, { headers: auth });
          assertEquals(del.status, 204);
          const list = await events(t, admin.access_token, `?target_type=user&target_id=${userId}`);
          assertEquals(list.map((e) => e.action), [
            "session.revoked",
            "user.deactivated",
            "user.demoted",
            "user.promoted",
            "user.created",
          ]);
          assertEquals(list[2]!.changes!.role, { before: "admin", after: "user" });
          assertEquals(list[2]!.actor_user_id, userId, "the user demoted themselves");
          assertEquals(list[3]!.actor_user_id, admin.user_id);
          assertEquals(list[0]!.changes!.sessions, { before: 1, after: 0 });
          assert(user.access_token.length > 0);
        },
      );

      await s.step("a password change, logout and API keys: never a secret", async () => {
        const alice = await createUser(t);
        const password = "a-brand-new-password-1";
        const patch = await t.request("PATCH", `/users/${alice.id}`, {
          headers: bearer(alice.token),
          json: { password, current_password: alice.password },
        });
        assertEquals(patch.status, 200, await patch.text());
        const key = await t.request("POST", "/auth/api-keys", {
          headers: bearer(alice.token),
          json: { name: "audited key", scopes: ["items:read"] },
        });
        const created = await key.json();
        const revoke = await t.request("DELETE", `/auth/api-keys/${created.id}`, {
          headers: bearer(alice.token),
        });
        assertEquals(revoke.status, 204);
        const out = await t.request("POST", "/auth/logout", { headers: bearer(alice.token) });
        assertEquals(out.status, 204);
        const list = await events(t, admin.access_token, `?actor_user_id=${alice.id}`);
        assertEquals(list.map((e) => e.action), [
          "session.revoked",
          "api_key.revoked",
          "api_key.created",
          "user.password_changed",
        ]);
        const text = JSON.stringify(list);
        for (const secret of [password, alice.password, alice.token, created.key]) {
          assert(!text.includes(secret), "a secret reached the audit trail");
        }
        assert(!text.includes("$argon2id$"), "a password hash reached the audit trail");
      });

      await s.step("client versions created and retired", async () => {
        const res = await t.request("POST", "/versions", {
          headers: auth,
          json: { version: "5.5", supported: true },
        });
        const version = await res.json();
        await t.request("PATCH", `/versions/${version.id}`, {
          headers: auth,
          json: { supported: false },
        });
        const list = await events(t, admin.access_token, "?target_type=version");
        assertEquals(list.map((e) => e.action), ["version.retired", "version.created"]);
        assertEquals(list[0]!.changes, { supported: { before: true, after: false } });
      });

      await s.step("break glass at the command line is recorded as the CLI", async () => {
        await breakGlass({ ...t.deps, auditLog: t.deps.auditLog }, "revoke-sessions", "admin");
        const [event] = await events(
          t,
          (await loginAdmin(t)).access_token,
          "?action=break_glass.revoke-sessions",
        );
        assertEquals(event!.auth_method, "cli");
        assertEquals(event!.actor_user_id, null);
        assertEquals(event!.credential, "revoke-sessions");
      });

      await s.step("the metrics count events by action", async () => {
        const text = await t.deps.metrics.registry.metrics();
        assert(/audit_events_total\{action="user\.created"\} [1-9]/.test(text), "counted");
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] GET /audit-events is for admins, filtered, newest first and paged`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const admin = (await loginAdmin(t)).access_token;
      for (let i = 0; i < 5; i++) {
        t.clock.advance(60_000);
        await t.request("POST", "/versions", {
          headers: bearer(admin),
          json: { version: `3.${i}`, supported: true },
        });
      }

      await s.step("a user or an anonymous caller is refused", async () => {
        const user = await createUser(t);
        await expectProblem(
          await t.request("GET", "/audit-events", { headers: bearer(user.token) }),
          403,
        );
        await expectProblem(await t.request("GET", "/audit-events"), 401);
      });

      await s.step("newest first, and by cursor to the end without overlap", async () => {
        const seen: number[] = [];
        let url = "/audit-events?action=version.created&limit=2";
        for (let pages = 0; pages < 10 && url; pages++) {
          const res = await t.request("GET", url, { headers: bearer(admin) });
          const body = await res.json();
          seen.push(...body.events.map((e: { id: number }) => e.id));
          url = body.next_cursor
            ? `/audit-events?action=version.created&limit=2&cursor=${body.next_cursor}`
            : "";
        }
        assertEquals(seen.length, 5);
        assertEquals(seen, [...seen].sort((a, b) => b - a));
      });

      await s.step("since and until bound the time", async () => {
        const all = await events(t, admin, "?action=version.created");
        const middle = all[2]!.occurred_at as string;
        const later = await events(t, admin, `?action=version.created&since=${middle}`);
        assertEquals(later.length, 3);
        const earlier = await events(t, admin, `?action=version.created&until=${middle}`);
        assertEquals(earlier.length, 2);
      });

      await s.step("bad filters are 422", async () => {
        for (const query of ["?since=yesterday", "?actor_user_id=0", "?action=DROP TABLE"]) {
          await expectProblem(
            await t.request("GET", `/audit-events${query}`, { headers: bearer(admin) }),
            422,
          );
        }
      });

      await s.step("nothing changes an event over HTTP", async () => {
        for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
          const res = await t.request(method, "/audit-events", { headers: bearer(admin) });
          await expectProblem(res, 405);
        }
      });

      await s.step("the purge deletes events older than AUDIT_RETENTION", async () => {
        const before = (await events(t, admin, "?limit=100")).length;
        t.clock.advance(2 * 60_000);
        const cutoff = 3 * 60_000 + 30_000; // keeps the two newest versions' events
        await runTokenPurge({ db: t.deps.db, clock: t.clock, auditRetentionMs: cutoff });
        const after = await events(t, (await loginAdmin(t)).access_token, "?limit=100");
        assert(after.length < before, `${after.length} < ${before}`);
        assertEquals(
          after.filter((e) => e.action === "version.created").length,
          2,
        );
      });
    } finally {
      await t.close();
    }
  });
}
