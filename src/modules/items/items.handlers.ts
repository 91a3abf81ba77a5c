import { ifMatchPrecondition, jsonWithEtag } from "@/http/etag.ts";
import { nextLink } from "@/http/pagination.ts";
import type { AppRouteHandler } from "@/middleware/app-router.ts";
import * as service from "@/modules/items/items.service.ts";
import type {
  CreateItemRoute,
  DeleteItemRoute,
  GetItemRoute,
  ListItemsRoute,
  UpdateItemRoute,
} from "@/modules/items/items.routes.ts";

/** The handlers of `/items`, created with what the service needs besides the database. */
export function createItemsHandlers(deps: service.ItemsDeps) {
  const { clock, config } = deps;
  const ifMatch = { required: config.http.requireIfMatch };

  const createItem: AppRouteHandler<CreateItemRoute> = async (c) => {
    const item = await service.createItem(
      { db: c.get("db"), clock },
      c.get("user").id,
      c.req.valid("json"),
    );
    c.header("Location", `/items/${item.id}`);
    return jsonWithEtag(c, item, 201);
  };

  const listItems: AppRouteHandler<ListItemsRoute> = async (c) => {
    const page = await service.listItems({ db: c.get("db"), config }, {
      ...c.req.valid("query"),
      pageGiven: c.req.query("page") !== undefined,
    });
    if (page.next_cursor) c.header("Link", nextLink(c.req.url, page.next_cursor));
    return c.json(page, 200);
  };

  const getItem: AppRouteHandler<GetItemRoute> = async (c) => {
    const { item_id: id } = c.req.valid("param");
    return jsonWithEtag(c, await service.getItem(c.get("db"), id), 200);
  };

  const updateItem: AppRouteHandler<UpdateItemRoute> = async (c) => {
    const { item_id: id } = c.req.valid("param");
    const precondition = ifMatchPrecondition(c.req.header("if-match"), ifMatch);
    const changes = c.req.valid("json");
    const item = await service.updateItem({ db: c.get("db"), clock }, id, changes, precondition);
    return jsonWithEtag(c, item, 200);
  };

  const deleteItem: AppRouteHandler<DeleteItemRoute> = async (c) => {
    const { item_id: id } = c.req.valid("param");
    const precondition = ifMatchPrecondition(c.req.header("if-match"), ifMatch);
    await service.deleteItem(c.get("db"), id, precondition);
    return c.body(null, 204);
  };

  return { createItem, listItems, getItem, updateItem, deleteItem };
}
