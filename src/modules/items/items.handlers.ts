import { nextLink } from "@/http/pagination.ts";
import type { AppRouteHandler } from "@/http/router.ts";
import * as service from "@/modules/items/items.service.ts";
import type {
  CreateItemRoute,
  DeleteItemRoute,
  GetItemRoute,
  ListItemsRoute,
  UpdateItemRoute,
} from "@/modules/items/items.routes.ts";

export const createItem: AppRouteHandler<CreateItemRoute> = async (c) => {
  const item = await service.createItem(c.get("deps"), c.get("user").id, c.req.valid("json"));
  c.header("Location", `/items/${item.id}`);
  return c.json(item, 201);
};

export const listItems: AppRouteHandler<ListItemsRoute> = async (c) => {
  const page = await service.listItems(c.get("deps"), {
    ...c.req.valid("query"),
    pageGiven: c.req.query("page") !== undefined,
  });
  if (page.next_cursor) c.header("Link", nextLink(c.req.url, page.next_cursor));
  return c.json(page, 200);
};

export const getItem: AppRouteHandler<GetItemRoute> = async (c) => {
  const { item_id: id } = c.req.valid("param");
  return c.json(await service.getItem(c.get("deps"), id), 200);
};

export const updateItem: AppRouteHandler<UpdateItemRoute> = async (c) => {
  const { item_id: id } = c.req.valid("param");
  return c.json(await service.updateItem(c.get("deps"), id, c.req.valid("json")), 200);
};

export const deleteItem: AppRouteHandler<DeleteItemRoute> = async (c) => {
  const { item_id: id } = c.req.valid("param");
  await service.deleteItem(c.get("deps"), id);
  return c.body(null, 204);
};
