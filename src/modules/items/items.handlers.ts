import { NotFoundError } from "@/lib/errors.ts";
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
import { toItemBody } from "@/modules/items/items.schemas.ts";

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
  const { total, items } = await repository.listItems(c.get("deps").db, {
    name: query.name,
    description: query.description,
    userId: query.user_id,
    sort: query.sort,
    page: query.page,
    limit: query.limit,
  });
  return c.json({ page: query.page, limit: query.limit, total, items: items.map(toItemBody) }, 200);
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
