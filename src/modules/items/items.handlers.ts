import { cursorCodec } from "@/lib/cursor.ts";
import { NotFoundError, ValidationError } from "@/lib/errors.ts";
import { listScope, nextLink, resolveWindow, sortSpec } from "@/lib/pagination.ts";
import type { AppRouteHandler } from "@/lib/router.ts";
import * as repository from "@/modules/items/items.repository.ts";
import {
  type CreateItemRoute,
  type DeleteItemRoute,
  type GetItemRoute,
  ITEM_NOT_FOUND,
  type ListItemsRoute,
  type UpdateItemRoute,
} from "@/modules/items/items.routes.ts";
import { SEARCH_MAX_WORDS, toItemBody } from "@/modules/items/items.schemas.ts";

export const createItem: AppRouteHandler<CreateItemRoute> = async (c) => {
  const body = c.req.valid("json");
  const { db, clock } = c.get("deps");
  const item = await repository.insertItem(db, {
    userId: c.var.user.id,
    name: body.name,
    description: body.description ?? null,
    now: clock.now(),
  });
  c.header("Location", `/items/${item.id}`);
  return c.json(toItemBody(item), 201);
};

export const listItems: AppRouteHandler<ListItemsRoute> = async (c) => {
  const query = c.req.valid("query");
  const { db, config } = c.get("deps");
  const words = query.q === undefined ? undefined : repository.searchWords(query.q);
  if (words !== undefined && (words.length === 0 || words.length > SEARCH_MAX_WORDS)) {
    throw new ValidationError([{
      path: "query.q",
      message: `Expected 1 to ${SEARCH_MAX_WORDS} words of letters or digits`,
    }]);
  }
  const sort = sortSpec(
    query.sort,
    repository.ITEM_SORT_COLUMNS,
    repository.ITEM_TIMESTAMP_FIELDS,
    "items.id",
  );
  const codec = cursorCodec(config.auth.secretKey);
  const scope = listScope("items", sort, {
    name: query.name,
    description: query.description,
    user_id: query.user_id,
    q: words?.join(" "),
  });
  const window = await resolveWindow({
    page: query.page,
    limit: query.limit,
    pageGiven: c.req.query("page") !== undefined,
    cursor: query.cursor,
    codec,
    scope,
  });
  const page = await repository.listItems(db, {
    name: query.name,
    description: query.description,
    userId: query.user_id,
    q: words,
    sort,
    window,
    limit: query.limit,
    serverTimeoutMs: config.database.listQueryTimeoutMs,
  });
  const next = page.next && await codec.encode(scope, page.next);
  if (next) c.header("Link", nextLink(c.req.url, next));
  return c.json({
    page: window.after ? null : query.page,
    limit: query.limit,
    total: page.total,
    total_relation: page.relation,
    next_cursor: next ?? null,
    items: page.rows.map(toItemBody),
  }, 200);
};

export const getItem: AppRouteHandler<GetItemRoute> = async (c) => {
  const { item_id: id } = c.req.valid("param");
  const item = await repository.findItemById(c.get("deps").db, id);
  if (!item) throw new NotFoundError(ITEM_NOT_FOUND);
  return c.json(toItemBody(item), 200);
};

export const updateItem: AppRouteHandler<UpdateItemRoute> = async (c) => {
  const { item_id: id } = c.req.valid("param");
  const changes = c.req.valid("json");
  const { db, clock } = c.get("deps");
  const item = await db.transaction((tx) =>
    repository.updateItem(tx, id, {
      name: changes.name,
      description: changes.description,
      now: clock.now(),
    })
  );
  if (!item) throw new NotFoundError(ITEM_NOT_FOUND);
  return c.json(toItemBody(item), 200);
};

export const deleteItem: AppRouteHandler<DeleteItemRoute> = async (c) => {
  const { item_id: id } = c.req.valid("param");
  if (!(await repository.deleteItem(c.get("deps").db, id))) throw new NotFoundError(ITEM_NOT_FOUND);
  return c.body(null, 204);
};
