import { createRouter } from "@/http/router.ts";
import * as handlers from "@/modules/items/items.handlers.ts";
import * as routes from "@/modules/items/items.routes.ts";

/** `/items`: create, list, read, change and delete items. */
export function createItemsRouter() {
  return createRouter()
    .openapi(routes.createItem, handlers.createItem)
    .openapi(routes.listItems, handlers.listItems)
    .openapi(routes.getItem, handlers.getItem)
    .openapi(routes.updateItem, handlers.updateItem)
    .openapi(routes.deleteItem, handlers.deleteItem);
}
