import { defineModule } from "@/http/module.ts";
import type { RouterOptions } from "@/http/router.ts";
import { createAppRouter } from "@/middleware/app-router.ts";
import { createItemsHandlers } from "@/modules/items/items.handlers.ts";
import * as routes from "@/modules/items/items.routes.ts";
import type { ItemsDeps } from "@/modules/items/items.service.ts";

/** `/items`: create, list, read, change and delete items. */
export const itemsModule = defineModule({
  name: "items",
  basePaths: ["/items"],
  versioned: true,
  tag: { name: routes.TAG, description: "Items owned by users; any user may read any item" },
  scopes: {
    "items:read": { description: "List and read items", roles: ["admin", "user"] },
    "items:write": {
      description: "Create, change and delete items (owner or admin)",
      roles: ["admin", "user"],
    },
  },
  router: (deps: { readonly routing: RouterOptions } & ItemsDeps) => {
    const handlers = createItemsHandlers(deps);
    return createAppRouter(deps)
      .openapi(routes.createItem, handlers.createItem)
      .openapi(routes.listItems, handlers.listItems)
      .openapi(routes.getItem, handlers.getItem)
      .openapi(routes.updateItem, handlers.updateItem)
      .openapi(routes.deleteItem, handlers.deleteItem);
  },
});
