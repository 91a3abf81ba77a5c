/**
 * Give each request one database time budget shared by all its statements
 * (see {@link ../lib/query-budget.ts}).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/lib/app-env.ts";
import { withQueryBudget } from "@/lib/query-budget.ts";

/** Options of {@link queryBudget}. */
export interface QueryBudgetOptions {
  /** Database time one request may use in all (DB_QUERY_TIMEOUT). */
  ms: number;
}

/** Run the rest of the request under a fresh {@link withQueryBudget} of `options.ms`. */
export function queryBudget(options: QueryBudgetOptions): MiddlewareHandler<AppEnv> {
  return function queryBudget(_c, next) {
    return withQueryBudget(options.ms, next);
  };
}
