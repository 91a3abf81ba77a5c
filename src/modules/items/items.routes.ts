import {
  ETAG_HEADER,
  IF_MATCH_PARAMETER,
  IF_NONE_MATCH_PARAMETER,
  jsonContent,
  NOT_MODIFIED_RESPONSE,
  problemResponses,
} from "@/http/openapi.ts";
import { defineRoute } from "@/http/router.ts";
import { requireAuth } from "@/middleware/authenticate.ts";
import { idempotent } from "@/middleware/idempotency.ts";
import { requireOwnerOrAdmin } from "@/middleware/permissions.ts";
import {
  CreateItemSchema,
  ItemIdParamsSchema,
  ItemPageSchema,
  ItemSchema,
  ListItemsQuerySchema,
  UpdateItemSchema,
} from "@/modules/items/items.schemas.ts";
import { findItemOwnerId, ITEM_NOT_FOUND } from "@/modules/items/items.service.ts";

/** The OpenAPI tag of every items operation. */
export const TAG = "Items";
const tags = [TAG];

// A missing item passes on: its body is validated first (422), then the service answers 404.
const ownerOrAdmin = requireOwnerOrAdmin({
  load: (c, id) => findItemOwnerId(c.get("db"), id),
  notFound: ITEM_NOT_FOUND,
  whenMissing: "continue",
});

export const createItem = defineRoute({
  method: "post",
  path: "/items",
  tags,
  summary: "Create an item owned by the caller",
  description: "The name must be unique among the caller's items (409 otherwise).",
  middleware: [requireAuth({ scopes: ["items:write"] }), idempotent()] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateItemSchema } } },
  },
  responses: {
    201: { ...jsonContent(ItemSchema, "The new item"), headers: ETAG_HEADER },
    ...problemResponses(400, 401, 403, 409, 413, 415, 422, 426),
  },
});
export type CreateItemRoute = typeof createItem;

export const listItems = defineRoute({
  method: "get",
  path: "/items",
  tags,
  summary: "List items (any user's), filtered and paginated",
  description:
    "Ordered by id unless `sort` says otherwise (ties broken by id), so pages neither overlap " +
    'nor skip. Follow `next_cursor` (also in `Link: rel="next"`) to any depth; `page × limit` ' +
    "stops at 10 000 (422). `total` counts up to 10 000 (`total_relation`). `q` searches name " +
    "and description by word prefix. A list whose substring filter or `q` would cost more " +
    "than one request may (LIST_QUERY_TIMEOUT on MySQL, a bounded scan on SQLite) is 422 with " +
    "code `query_too_costly`: narrow the filter, add `user_id`, or use `q`.",
  middleware: [requireAuth({ scopes: ["items:read"] })] as const,
  request: { query: ListItemsQuerySchema },
  responses: {
    200: {
      ...jsonContent(ItemPageSchema, "One page of items"),
      headers: {
        Link: {
          description: 'The next page: `<…&cursor=…>; rel="next"` (RFC 8288); absent on the last',
          schema: { type: "string" },
        },
      },
    },
    ...problemResponses(401, 403, 422, 426),
  },
});
export type ListItemsRoute = typeof listItems;

export const getItem = defineRoute({
  method: "get",
  path: "/items/{item_id}",
  tags,
  summary: "Get an item",
  description: "Any user may read any item; 404 when none has this id. Carries an `ETag`; " +
    "with `If-None-Match` naming it, 304.",
  middleware: [requireAuth({ scopes: ["items:read"] })] as const,
  parameters: [IF_NONE_MATCH_PARAMETER],
  request: { params: ItemIdParamsSchema },
  responses: {
    200: { ...jsonContent(ItemSchema, "The item"), headers: ETAG_HEADER },
    304: NOT_MODIFIED_RESPONSE,
    ...problemResponses(401, 403, 404, 422, 426),
  },
});
export type GetItemRoute = typeof getItem;

export const updateItem = defineRoute({
  method: "patch",
  path: "/items/{item_id}",
  tags,
  summary: "Change an item (owner or admin)",
  description:
    "Absent fields stay as they are; `description: null` clears it. Keeping the item's own " +
    "name is not a conflict; taking the name of another of the owner's items is (409). With " +
    "`If-Match`, only the representation it names is changed (412 otherwise).",
  middleware: [requireAuth({ scopes: ["items:write"] }), ownerOrAdmin] as const,
  parameters: [IF_MATCH_PARAMETER],
  request: {
    params: ItemIdParamsSchema,
    body: { required: true, content: { "application/json": { schema: UpdateItemSchema } } },
  },
  responses: {
    200: { ...jsonContent(ItemSchema, "The changed item"), headers: ETAG_HEADER },
    ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422, 426, 428),
  },
});
export type UpdateItemRoute = typeof updateItem;

export const deleteItem = defineRoute({
  method: "delete",
  path: "/items/{item_id}",
  tags,
  summary: "Delete an item (owner or admin)",
  description: "403 for anyone but its owner or an admin; 404 when none has this id. With " +
    "`If-Match`, only the representation it names is deleted (412 otherwise).",
  middleware: [requireAuth({ scopes: ["items:write"] }), ownerOrAdmin] as const,
  parameters: [IF_MATCH_PARAMETER],
  request: { params: ItemIdParamsSchema },
  responses: {
    204: { description: "Deleted" },
    ...problemResponses(401, 403, 404, 412, 422, 426, 428),
  },
});
export type DeleteItemRoute = typeof deleteItem;
