import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin, type TestUser } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";
import { seedScale } from "../bench/scale-seed.ts";

interface Row {
  id: number;
  name?: string;
  username?: string;
  created_at: string;
  updated_at: string;
}

interface Page {
  page: number | null;
  limit: number;
  total: number;
  total_relation: "eq" | "gte";
  next_cursor: string | null;
  items?: Row[];
  users?: Row[];
}

async function get(
  t: TestApp,
  token: string,
  path: string,
): Promise<{ res: Response; body: Page }> {
  const res = await t.request("GET", path, { headers: bearer(token) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${text}`);
  return { res, body: JSON.parse(text) as Page };
}

const ITEM_SORTS = [
  "",
  "id",
  "-id",
  "name",
  "-name",
  "created_at",
  "-created_at",
  "updated_at",
  "-updated_at",
];
const USER_SORTS = ["", "id", "-id", "username", "-username", "created_at", "-created_at"];

/** Move the clock a little per write so timestamps differ, with ties now and then. */
function tick(t: TestApp, n: number) {
  if (n % 3 !== 0) t.clock.advance(1_000);
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] GET /items cursor walks see every row once while rows are inserted and deleted`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const owner = await createUser(t);
      const other = await createUser(t);
      const create = async (user: TestUser, name: string) => {
        const res = await t.request("POST", "/items", {
          json: { name, description: `about ${name}` },
          headers: bearer(user.token),
        });
        assertEquals(res.status, 201, name);
        return (await res.json() as Row).id;
      };
      let serial = 0;
      const ids: number[] = [];
      for (let i = 0; i < 40; i++) {
        tick(t, i);
        ids.push(
          await create(i % 4 === 0 ? other : owner, `Item ${String(i).padStart(3, "0")} ${i % 7}`),
        );
      }
      for (const sort of ITEM_SORTS) {
        for (const filter of ["", `&user_id=${owner.id}`, "&name=item%200"]) {
          await s.step(`sort=${sort || "(default)"}${filter}`, async () => {
            // Rows present before the walk and never deleted must each be seen exactly once.
            const before = await get(
              t,
              owner.token,
              `/items?limit=100${filter}${sort ? `&sort=${sort}` : ""}`,
            );
            const stable = new Set((before.body.items ?? []).map((r) => r.id));
            const deleted = new Set<number>();
            const seen: number[] = [];
            let cursor: string | null = null;
            let pages = 0;
            do {
              const path: string = `/items?limit=3${filter}${sort ? `&sort=${sort}` : ""}${
                cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
              }`;
              const { res, body } = await get(t, owner.token, path);
              seen.push(...(body.items ?? []).map((r) => r.id));
              cursor = body.next_cursor;
              if (cursor) {
                assertEquals(
                  res.headers.get("link"),
                  `<${new URL(`http://x${path}`).pathname}?${
                    new URLSearchParams(
                      [
                        ...new URLSearchParams(path.split("?")[1]).entries(),
                      ].filter(([k]) => k !== "cursor").concat([["cursor", cursor]]),
                    ).toString()
                  }>; rel="next"`,
                );
              } else assertEquals(res.headers.get("link"), null);
              if (pages > 0) assertEquals(body.page, null, "a cursor page has no page number");
              // Concurrent writes: a new row, and the deletion of a row not yet seen (or seen).
              tick(t, ++serial);
              ids.push(await create(owner, `New ${serial} ${crypto.randomUUID().slice(0, 6)}`));
              const victim = ids.splice(Math.floor(ids.length / 2), 1)[0]!;
              const del = await t.request("DELETE", `/items/${victim}`, {
                headers: bearer(owner.token),
              });
              if (del.status === 204) deleted.add(victim);
              else await del.body?.cancel();
              pages++;
            } while (cursor && pages < 200);
            assertEquals(new Set(seen).size, seen.length, "no row twice");
            for (const id of stable) {
              if (!deleted.has(id)) {
                assert(seen.includes(id), `row ${id} was skipped (sort=${sort})`);
              }
            }
          });
        }
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] GET /users cursor walks see every row once while users are added`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const admin = (await loginAdmin(t)).access_token;
      for (let i = 0; i < 12; i++) {
        tick(t, i);
        await createUser(t);
      }
      for (const sort of USER_SORTS) {
        for (const filter of ["", "&role_id=2", "&activated=true"]) {
          await s.step(`sort=${sort || "(default)"}${filter}`, async () => {
            const base = `/users?limit=4${filter}${sort ? `&sort=${sort}` : ""}`;
            const before = await get(t, admin, base.replace("limit=4", "limit=100"));
            const stable = (before.body.users ?? []).map((r) => r.id);
            const seen: number[] = [];
            let cursor: string | null = null;
            let pages = 0;
            do {
              const { body } = await get(
                t,
                admin,
                `${base}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
              );
              seen.push(...(body.users ?? []).map((r) => r.id));
              cursor = body.next_cursor;
              tick(t, ++pages);
              await createUser(t);
            } while (cursor && pages < 100);
            assertEquals(new Set(seen).size, seen.length, "no user twice");
            for (const id of stable) assert(seen.includes(id), `user ${id} was skipped`);
          });
        }
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] GET /items and GET /users reject bad cursors and deep pages with 422`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const user = await createUser(t);
      const admin = (await loginAdmin(t)).access_token;
      for (let i = 0; i < 5; i++) {
        await t.request("POST", "/items", {
          json: { name: `Thing ${i}` },
          headers: bearer(user.token),
        });
      }
      const first = await get(t, user.token, "/items?limit=2&sort=name");
      const cursor = first.body.next_cursor!;
      assert(cursor, "a next_cursor on a page that has a successor");
      const usersFirst = await get(t, admin, "/users?limit=1");
      const usersCursor = usersFirst.body.next_cursor!;

      const rejects = async (token: string, path: string, field: string) => {
        const body = await expectProblem(
          await t.request("GET", path, { headers: bearer(token) }),
          422,
        );
        const errors = body.errors as Array<{ path: string; message: string }>;
        assertEquals(errors[0]?.path, field, path);
        return body;
      };
      await s.step("a tampered cursor is 422", async () => {
        const [payload, tag] = cursor.split(".");
        const forged = btoa(JSON.stringify(["Thing 3", 1])).replace(/=+$/, "");
        for (
          const bad of [
            `${forged}.${tag}`,
            `${payload}.${tag!.slice(0, -2)}AA`,
            `${payload}`,
            `${payload}.${tag}.x`,
            "not a cursor",
            "....",
          ]
        ) {
          await rejects(
            user.token,
            `/items?sort=name&cursor=${encodeURIComponent(bad)}`,
            "query.cursor",
          );
        }
      });
      await s.step("a cursor of another sort, filter or resource is 422", async () => {
        const c = encodeURIComponent(cursor);
        await rejects(user.token, `/items?sort=-name&cursor=${c}`, "query.cursor");
        await rejects(user.token, `/items?cursor=${c}`, "query.cursor");
        await rejects(
          user.token,
          `/items?sort=name&user_id=${user.id}&cursor=${c}`,
          "query.cursor",
        );
        await rejects(user.token, `/items?sort=name&q=thing&cursor=${c}`, "query.cursor");
        await rejects(admin, `/users?cursor=${encodeURIComponent(cursor)}`, "query.cursor");
        await rejects(
          user.token,
          `/items?cursor=${encodeURIComponent(usersCursor)}`,
          "query.cursor",
        );
      });
      await s.step("the same cursor with another limit is fine", async () => {
        const next = await get(
          t,
          user.token,
          `/items?sort=name&limit=3&cursor=${encodeURIComponent(cursor)}`,
        );
        assertEquals((next.body.items ?? []).map((r) => r.name), ["Thing 2", "Thing 3", "Thing 4"]);
        assertEquals(next.body.next_cursor, null, "null on the last page");
      });
      await s.step("cursor with page is 422", async () => {
        await rejects(
          user.token,
          `/items?sort=name&page=1&cursor=${encodeURIComponent(cursor)}`,
          "query.cursor",
        );
        await rejects(
          admin,
          `/users?page=2&cursor=${encodeURIComponent(usersCursor)}`,
          "query.cursor",
        );
      });
      await s.step("page × limit above 10 000 is 422 naming cursor", async () => {
        for (const [token, path] of [[user.token, "/items"], [admin, "/users"]] as const) {
          const body = await rejects(token, `${path}?page=101&limit=100`, "query.page");
          assert(String(body.detail).includes("cursor"), String(body.detail));
          assert(JSON.stringify(body.errors).includes("cursor"));
          await rejects(token, `${path}?page=501&limit=20`, "query.page");
          await get(t, token, `${path}?page=500&limit=20`);
        }
      });
      await s.step("q without a word is 422", async () => {
        await rejects(user.token, `/items?q=${encodeURIComponent("-- !")}`, "query.q");
      });
    } finally {
      await t.close();
    }
  });

  Deno.test(`[${dialect}] GET /items counts exactly to 10 000, then reports total_relation gte`, async (s) => {
    const t = await createTestApp(dialect);
    try {
      const user = await createUser(t);
      const admin = (await loginAdmin(t)).access_token;
      await seedScale(t.deps.db, { users: 50, items: 10_050 });
      await s.step("beyond the cap: 10 000 and gte", async () => {
        const { body } = await get(t, user.token, "/items?limit=5");
        assertEquals([body.total, body.total_relation], [10_000, "gte"]);
      });
      await s.step("under the cap: exact and eq", async () => {
        const [first] = (await get(t, user.token, "/items?limit=1&sort=id")).body.items ?? [];
        const owner = await t.deps.db.query<{ user_id: number }>(
          "SELECT user_id FROM items WHERE id = ?",
          [first!.id],
        );
        const { body } = await get(t, user.token, `/items?limit=5&user_id=${owner[0]!.user_id}`);
        assertEquals([body.total, body.total_relation], [201, "eq"]);
        const users = (await get(t, admin, "/users?limit=5&role_id=2")).body;
        assertEquals([users.total, users.total_relation], [51, "eq"]);
      });
      await s.step(
        "q finds word prefixes in name or description, all words, any case",
        async () => {
          const k = (await get(t, user.token, "/items?q=K042&limit=100&sort=-created_at")).body;
          // n mod 997 = 42: n = 42, 1039, 2036, ... up to 10 050.
          assertEquals([k.total, k.total_relation], [11, "eq"]);
          assert(
            (k.items ?? []).every((r) =>
              String((r as { description?: string }).description).endsWith("k042")
            ),
          );
          const both = (await get(t, user.token, "/items?q=k042%20RED&limit=100")).body;
          assert(both.total > 0 && both.total < 11, `${both.total}`);
          const prefix = (await get(t, user.token, "/items?q=noteb%20k04&limit=20")).body;
          assertEquals(
            prefix.items?.length,
            20,
            `k04 begins k040..k049: ${JSON.stringify(prefix)}`,
          );
          // SQLite counts q's matches; MySQL counts to the end of the page (as much work again).
          assertEquals(
            [prefix.total > 21, prefix.total_relation],
            dialect === "sqlite" ? [true, "eq"] : [false, "gte"],
          );
          const name = (await get(t, user.token, "/items?q=item%201039")).body;
          assert((name.items ?? []).some((r) => r.name === "Item 1039"));
          const none = (await get(t, user.token, "/items?q=zebra")).body;
          assertEquals([none.total, none.items], [0, []]);
        },
      );
      await s.step("q combines with user_id, sort and cursor", async () => {
        const all = (await get(t, user.token, "/items?q=k042&limit=100&sort=name")).body.items ??
          [];
        const walked: string[] = [];
        let cursor: string | null = null;
        do {
          const page: Page = (await get(
            t,
            user.token,
            `/items?q=k042&limit=4&sort=name${
              cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
            }`,
          )).body;
          walked.push(...(page.items ?? []).map((r) => r.name!));
          cursor = page.next_cursor;
        } while (cursor);
        assertEquals(walked, all.map((r) => r.name!));
        assertEquals(walked, [...walked].sort());
        const owner = (await t.deps.db.query<{ user_id: number }>(
          "SELECT user_id FROM items WHERE name = 'Item 1039'",
        ))[0]!.user_id;
        const mine = (await get(t, user.token, `/items?q=k042&user_id=${owner}`)).body;
        assert((mine.items ?? []).every((r) => (r as { user_id?: number }).user_id === owner));
        assert((mine.items ?? []).some((r) => r.name === "Item 1039"));
      });
      await s.step("a common substring answers; totals count to the page end", async () => {
        const { body } = await get(t, user.token, "/items?name=item%201&limit=10");
        assertEquals(body.items?.length, 10);
        assertEquals([body.total, body.total_relation], [11, "gte"]);
        assert(body.next_cursor);
      });
      await s.step("changing an item updates what q finds; deleting removes it", async () => {
        const created = await t.request("POST", "/items", {
          json: { name: "Quokka plush", description: "soft" },
          headers: bearer(user.token),
        });
        const id = (await created.json() as Row).id;
        assertEquals((await get(t, user.token, "/items?q=quok")).body.total, 1);
        await t.request("PATCH", `/items/${id}`, {
          json: { name: "Wombat plush" },
          headers: bearer(user.token),
        }).then((r) => r.body?.cancel());
        assertEquals((await get(t, user.token, "/items?q=quok")).body.total, 0);
        assertEquals((await get(t, user.token, "/items?q=wombat%20SOFT")).body.total, 1);
        await t.request("DELETE", `/items/${id}`, { headers: bearer(user.token) });
        assertEquals((await get(t, user.token, "/items?q=wombat")).body.total, 0);
      });
    } finally {
      await t.close();
    }
  });
}
