import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestApp, expectProblem, type TestApp } from "./helpers/app.ts";
import { bearer, createUser, loginAdmin, type TestUser } from "./helpers/auth.ts";
import { DIALECTS } from "./helpers/databases.ts";

interface Item {
  id: number;
  name: string;
  description: string | null;
  user_id: number;
  created_at: string;
}

interface Page {
  page: number | null;
  limit: number;
  total: number;
  total_relation?: "eq" | "gte";
  next_cursor?: string | null;
  items: Item[];
}

/** Names chosen so that an unescaped %, _, \ or ! in a filter would match too much. */
const SPECIAL_NAMES = ["100% cotton", "100 cotton", "snake_case", "snakeXcase", "back\\slash"];
const MORE_SPECIAL = ["backslash", "bang!", "bang", "Mixed CASE Book"];

async function fixture(dialect: "sqlite" | "mysql") {
  const t = await createTestApp(dialect);
  const alice = await createUser(t);
  const bob = await createUser(t);
  const create = async (user: TestUser, name: string, description: string | null) => {
    const res = await t.request("POST", "/items", {
      json: { name, description },
      headers: bearer(user.token),
    });
    assertEquals(res.status, 201, name);
    await res.body?.cancel();
  };
  // The clock does not move: every item has the same created_at, so only the id breaks ties.
  for (let i = 1; i <= 23; i++) {
    await create(alice, `Item ${String(i).padStart(2, "0")}`, i % 2 === 0 ? "even" : null);
  }
  for (const name of [...SPECIAL_NAMES, ...MORE_SPECIAL]) await create(bob, name, `about ${name}`);
  return { t, alice, bob, total: 23 + SPECIAL_NAMES.length + MORE_SPECIAL.length };
}

async function page(t: TestApp, user: TestUser, query: string): Promise<Page> {
  const res = await t.request("GET", `/items${query}`, { headers: bearer(user.token) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /items${query}: ${res.status} ${text}`);
  return JSON.parse(text) as Page;
}

for (const dialect of DIALECTS) {
  Deno.test(`[${dialect}] GET /items paginates with stable order and exact totals`, async (s) => {
    const { t, alice, bob, total } = await fixture(dialect);
    try {
      await s.step("401 for an anonymous caller", async () => {
        await expectProblem(await t.request("GET", "/items"), 401);
      });
      await s.step("defaults: page 1, limit 20, ordered by id, any user's items", async () => {
        const first = await page(t, bob, "");
        assertEquals([first.page, first.limit, first.total], [1, 20, total]);
        assertEquals(first.items.length, 20);
        const ids = first.items.map((i) => i.id);
        assertEquals(ids, [...ids].sort((a, b) => a - b));
        assert(first.items.every((i) => i.user_id === alice.id), "bob sees alice's items");
        const admin = (await loginAdmin(t)).access_token;
        const res = await t.request("GET", "/items", { headers: bearer(admin) });
        assertEquals((await res.json() as Page).total, total, "so does an admin");
      });
      await s.step(
        "the last page holds the rest; past it is empty with the same total",
        async () => {
          const last = await page(t, alice, "?page=2");
          assertEquals(last.items.length, total - 20);
          assertEquals(last.total, total);
          const beyond = await page(t, alice, "?page=3");
          assertEquals([beyond.page, beyond.total, beyond.items], [3, total, []]);
          const far = await page(t, alice, "?page=100&limit=100");
          assertEquals(far.items, [], "page × limit = 10 000 is the deepest offset page");
        },
      );
      await s.step("limit 1 and limit 100 are the bounds", async () => {
        assertEquals((await page(t, alice, "?limit=1")).items.length, 1);
        assertEquals((await page(t, alice, "?limit=100")).items.length, total);
      });
      await s.step("page and limit out of range or malformed are 422, never clamped", async () => {
        for (
          const query of [
            "?page=0",
            "?page=-1",
            "?page=1.5",
            "?page=abc",
            "?page=",
            "?limit=0",
            "?limit=101",
            "?limit=-5",
            "?limit=ten",
            "?page=9007199254740992",
            "?sort=password",
            "?sort=--id",
            "?user_id=abc",
            "?user_id=0",
            "?name=",
            `?name=${"x".repeat(256)}`,
            "?name=%00",
            "?description=a%00b",
          ]
        ) {
          const res = await t.request("GET", `/items${query}`, { headers: bearer(alice.token) });
          const body = await expectProblem(res, 422);
          assert(Array.isArray(body.errors), query);
        }
      });
      await s.step("walking the pages visits every item once, for every sort", async () => {
        for (const sort of ["", "id", "-id", "name", "-name", "created_at", "-created_at"]) {
          const seen: Item[] = [];
          for (let n = 1;; n++) {
            const p = await page(t, alice, `?limit=7&page=${n}${sort ? `&sort=${sort}` : ""}`);
            assertEquals(p.total, total);
            seen.push(...p.items);
            if (p.items.length < 7) break;
          }
          const ids = seen.map((i) => i.id);
          assertEquals(new Set(ids).size, total, `no overlap or gap with sort=${sort}`);
          const all = await page(t, alice, `?limit=100${sort ? `&sort=${sort}` : ""}`);
          assertEquals(ids, all.items.map((i) => i.id), `pages concatenate to the list (${sort})`);
        }
      });
      await s.step("sort orders by the field, ties by id in the same direction", async () => {
        const byCreatedDesc = await page(t, alice, "?limit=100&sort=-created_at");
        const ids = byCreatedDesc.items.map((i) => i.id);
        assertEquals(ids, [...ids].sort((a, b) => b - a), "equal timestamps fall back to -id");
        const byName = await page(t, alice, "?limit=100&sort=name&user_id=" + alice.id);
        const names = byName.items.map((i) => i.name);
        assertEquals(names, [...names].sort());
      });
      await s.step("user_id filters by owner; an unknown owner gives an empty page", async () => {
        const bobs = await page(t, alice, `?user_id=${bob.id}&limit=100`);
        assertEquals(bobs.total, SPECIAL_NAMES.length + MORE_SPECIAL.length);
        assert(bobs.items.every((i) => i.user_id === bob.id));
        const none = await page(t, alice, "?user_id=999999");
        assertEquals([none.total, none.items], [0, []]);
      });
      await s.step("name filters are substrings with %, _, \\ and ! taken literally", async () => {
        const names = async (filter: string) =>
          (await page(t, alice, `?limit=100&name=${encodeURIComponent(filter)}`)).items
            .map((i) => i.name).sort();
        assertEquals(await names("%"), ["100% cotton"]);
        assertEquals(await names("0%"), ["100% cotton"]);
        assertEquals(await names("_"), ["snake_case"]);
        assertEquals(await names("e_c"), ["snake_case"]);
        assertEquals(await names("\\"), ["back\\slash"]);
        assertEquals(await names("k\\s"), ["back\\slash"]);
        assertEquals(await names("!"), ["bang!"]);
        assertEquals(await names("item 0"), await names("Item 0"));
        assertEquals((await names("item 0")).length, 9);
        assertEquals(await names("mixed case"), ["Mixed CASE Book"]);
        assertEquals(await names("no such thing"), []);
      });
      await s.step(
        "description filters skip items without one and combine with others",
        async () => {
          const even = await page(t, bob, "?description=EVEN&limit=100");
          assertEquals(even.total, 11);
          assert(even.items.every((i) => i.description === "even"));
          const combined = await page(t, bob, `?description=cotton&user_id=${bob.id}`);
          assertEquals(combined.items.map((i) => i.name).sort(), ["100 cotton", "100% cotton"]);
          const wildcard = await page(t, bob, `?description=${encodeURIComponent("%")}`);
          assertEquals(wildcard.items.map((i) => i.name), ["100% cotton"]);
        },
      );
      await s.step("an empty table gives total 0 and no items", async () => {
        const fresh = await createTestApp(dialect);
        try {
          const carol = await createUser(fresh);
          const empty = await page(fresh, carol, "");
          assertEquals(empty, {
            page: 1,
            limit: 20,
            total: 0,
            total_relation: "eq",
            next_cursor: null,
            items: [],
          });
        } finally {
          await fresh.close();
        }
      });
    } finally {
      await t.close();
    }
  });
}
