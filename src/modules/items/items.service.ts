/**
 * The rules of items: a name is unique among its owner's items (409), a `q` search has 1 to
 * {@link SEARCH_MAX_WORDS} words, and a cursor only continues the list that issued it.
 *
 * @module
 */
import type { z } from "@hono/zod-openapi";
import { type Database, type Queryable, UniqueViolationError } from "@/db/database.ts";
import type { Clock } from "@/runtime/clock.ts";
import { ConflictError, NotFoundError, ValidationError } from "@/http/errors.ts";
import { listScope, readPage, sortSpec } from "@/http/pagination.ts";
import * as repository from "@/modules/items/items.repository.ts";
import { ITEM_SORTS } from "@/modules/items/items.sorts.ts";
import type { Item } from "@/modules/items/items.repository.ts";
import {
  type CreateItemSchema,
  type ItemPageSchema,
  type ListItemsQuerySchema,
  SEARCH_MAX_WORDS,
  type UpdateItemSchema,
} from "@/modules/items/items.schemas.ts";

/** The detail of every 404 about an item. */
export const ITEM_NOT_FOUND = "Item not found";

/** What the items handlers are created with: the clock, and the two settings items reads. */
export interface ItemsDeps {
  readonly clock: Clock;
  readonly config: {
    /** The key list cursors are signed with. */
    readonly auth: { readonly secretKey: string };
    /** MySQL's limit on each list statement. */
    readonly database: { readonly listQueryTimeoutMs: number };
    /** Whether writes must name the representation they change (REQUIRE_IF_MATCH). */
    readonly http: { readonly requireIfMatch: boolean };
  };
}

type Deps = { readonly db: Database } & Pick<ItemsDeps, "clock">;

/** What a client sets when adding an item. */
export type NewItem = z.infer<typeof CreateItemSchema>;

/** What a client may change; absent fields stay as they are, `description: null` clears it. */
export type ItemChanges = z.infer<typeof UpdateItemSchema>;

/** A validated list query, and whether it named `page` (its default is 1). */
export type ItemListRequest = z.infer<typeof ListItemsQuerySchema> & { pageGiven: boolean };

/** One page of items, as `GET /items` answers it. */
export type ItemPage = z.infer<typeof ItemPageSchema>;

/** The one place a duplicate `(user_id, name)` becomes a 409. */
async function unlessNameTaken<T>(name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof UniqueViolationError) {
      throw new ConflictError(`An item named "${name}" already exists for this owner`);
    }
    throw error;
  }
}

/** Add an item owned by `ownerId`; 409 when the owner already has one by this name. */
export function createItem(deps: Deps, ownerId: number, input: NewItem): Promise<Item> {
  return unlessNameTaken(input.name, () =>
    repository.insertItem(deps.db, {
      user_id: ownerId,
      name: input.name,
      description: input.description ?? null,
      now: deps.clock.now(),
    }));
}

/** One page of items; 422 for a `q` without words or with too many, or a foreign cursor. */
export async function listItems(
  deps: { readonly db: Database } & Pick<ItemsDeps, "config">,
  request: ItemListRequest,
): Promise<ItemPage> {
  const words = request.q === undefined ? undefined : repository.searchWords(request.q);
  if (words !== undefined && (words.length === 0 || words.length > SEARCH_MAX_WORDS)) {
    throw new ValidationError([{
      path: "query.q",
      message: `Expected 1 to ${SEARCH_MAX_WORDS} words of letters or digits`,
    }]);
  }
  const sort = sortSpec(request.sort, ITEM_SORTS);
  const scope = listScope("items", sort, {
    name: request.name,
    description: request.description,
    user_id: request.user_id,
    q: words?.join(" "),
  });
  const { rows, ...page } = await readPage({
    secretKey: deps.config.auth.secretKey,
    scope,
    request,
    read: (window) =>
      repository.listItems(deps.db, {
        name: request.name,
        description: request.description,
        userId: request.user_id,
        q: words,
        sort,
        window,
        limit: request.limit,
        serverTimeoutMs: deps.config.database.listQueryTimeoutMs,
      }),
  });
  return { ...page, items: rows };
}

/** One item; 404 when there is none with this id. */
export async function getItem(db: Queryable, id: number): Promise<Item> {
  const item = await repository.findItemById(db, id);
  if (!item) throw new NotFoundError(ITEM_NOT_FOUND);
  return item;
}

/**
 * A check of the item as it is, run under its row lock before a write (an `If-Match`); it
 * throws to refuse the write.
 */
export type ItemPrecondition = (current: Item) => void;

/** The item locked for this transaction, checked by `precondition`; 404 when none. */
async function lockedItem(
  tx: Queryable,
  id: number,
  precondition: ItemPrecondition,
): Promise<Item> {
  await repository.lockItem(tx, id);
  const current = await repository.findItemById(tx, id);
  if (!current) throw new NotFoundError(ITEM_NOT_FOUND);
  precondition(current);
  return current;
}

/**
 * Change an item; 404 when there is none with this id, 409 when renamed to the name of another
 * of the owner's items (keeping its own name is not a conflict). With a `precondition`, it is
 * checked against the item under its row lock, so of two writers naming one version only the
 * first changes it.
 */
export async function updateItem(
  deps: Deps,
  id: number,
  changes: ItemChanges,
  precondition?: ItemPrecondition,
): Promise<Item> {
  const item = await deps.db.transaction(async (tx) => {
    if (precondition) await lockedItem(tx, id, precondition);
    return unlessNameTaken(
      changes.name ?? "",
      () => repository.updateItem(tx, id, { ...changes, now: deps.clock.now() }),
    );
  });
  if (!item) throw new NotFoundError(ITEM_NOT_FOUND);
  return item;
}

/** Delete an item; 404 when there is none with this id (or `precondition` refuses). */
export async function deleteItem(
  db: Database,
  id: number,
  precondition?: ItemPrecondition,
): Promise<void> {
  const deleted = precondition
    ? await db.transaction(async (tx) => {
      await lockedItem(tx, id, precondition);
      return repository.deleteItem(tx, id);
    })
    : await repository.deleteItem(db, id);
  if (!deleted) throw new NotFoundError(ITEM_NOT_FOUND);
}

/** The owner's user id of an item, or undefined when there is none (`requireOwnerOrAdmin`). */
export function findItemOwnerId(db: Queryable, id: number): Promise<number | undefined> {
  return repository.findItemOwnerId(db, id);
}
