import { z } from "@hono/zod-openapi";
import { idParam } from "@/http/ids.ts";
import { timestamp } from "@/http/openapi.ts";
import { PageQuerySchema, pageSchema, sortParam } from "@/http/pagination.ts";
import { ITEM_SORTS } from "@/modules/items/items.sorts.ts";

/** Longest item name, in characters (Unicode code points, as the database counts them). */
export const NAME_MAX_LENGTH = 255;
/** Longest item description, in characters. */
export const DESCRIPTION_MAX_LENGTH = 10_000;

/** Longest `q`, in characters. */
export const SEARCH_MAX_LENGTH = 200;
/** Most words in one `q`. */
export const SEARCH_MAX_WORDS = 8;

/** Text the databases store and compare alike: well-formed Unicode without NUL. */
function isPortableText(value: string): boolean {
  return value.isWellFormed() && !value.includes("\0");
}

/** A string of `min` to `max` characters, counted as code points. */
function text(min: number, max: number) {
  return z.string()
    .refine(isPortableText, "Expected valid Unicode text without NUL characters")
    .refine((value) => {
      const length = [...value].length;
      return length >= min && length <= max;
    }, `Expected ${min} to ${max} characters`);
}

const ItemName = text(1, NAME_MAX_LENGTH)
  .refine((value) => value.trim() !== "", "Expected a name that is not only whitespace")
  .openapi({
    example: "Blue notebook",
    minLength: 1,
    maxLength: NAME_MAX_LENGTH, // code points, as JSON Schema and the refinement above count
    // Not only whitespace: JSON Schema patterns search (unanchored), and JS's \S is the
    // complement of exactly what String.prototype.trim() strips.
    pattern: "\\S",
    description:
      `1 to ${NAME_MAX_LENGTH} characters, not only whitespace; unique among the owner's items ` +
      "(case-sensitive)",
  });

const ItemDescription = text(0, DESCRIPTION_MAX_LENGTH).nullable().openapi({
  example: "A5, dotted, 120 pages",
  maxLength: DESCRIPTION_MAX_LENGTH,
  description: `Up to ${DESCRIPTION_MAX_LENGTH} characters; null for none`,
});

/** A substring filter: 1 to {@link NAME_MAX_LENGTH} characters. No example: unset by default. */
function filterText() {
  return text(1, NAME_MAX_LENGTH).openapi({ minLength: 1, maxLength: NAME_MAX_LENGTH });
}

export const ItemSchema = z.object({
  id: z.number().int().openapi({ example: 1 }),
  name: z.string().openapi({ example: "Blue notebook" }),
  description: z.string().nullable().openapi({ example: "A5, dotted, 120 pages" }),
  user_id: z.number().int().openapi({ example: 2, description: "The owner" }),
  created_at: timestamp(),
  updated_at: timestamp(),
}).openapi("Item");
/** An item, in the one shape the repository returns and the API answers. */
export type Item = z.infer<typeof ItemSchema>;

export const CreateItemSchema = z.strictObject({
  name: ItemName,
  description: ItemDescription.optional(),
}).openapi("CreateItem");

export const UpdateItemSchema = z.strictObject({
  name: ItemName.optional(),
  description: ItemDescription.optional().openapi({
    description: "null clears it; absent leaves it unchanged",
  }),
}).openapi("UpdateItem");

export const ItemIdParamsSchema = z.object({
  item_id: idParam("item_id", { in: "path" }),
});

export const ListItemsQuerySchema = PageQuerySchema.extend({
  name: filterText().optional().openapi({
    param: { name: "name", in: "query" },
    description: "Case-insensitive substring of the name; %, _ and \\ match themselves",
  }),
  description: filterText().optional().openapi({
    param: { name: "description", in: "query" },
    description: "Case-insensitive substring of the description; %, _ and \\ match themselves",
  }),
  user_id: idParam("user_id", { in: "query", description: "Only this owner's items" })
    .optional(),
  sort: sortParam(ITEM_SORTS),
  q: text(1, SEARCH_MAX_LENGTH).optional().openapi({
    param: { name: "q", in: "query" },
    minLength: 1,
    maxLength: SEARCH_MAX_LENGTH,
    description: "Full-text search: every word (run of letters and digits) must begin a word " +
      "of the name or the description, case- and accent-insensitive (`note blu` finds " +
      `"Blue notebook"). At most ${SEARCH_MAX_WORDS} words. Combines with the other filters, ` +
      "sort and cursor",
  }),
});

export const ItemPageSchema = pageSchema("items", ItemSchema, "ItemPage");
