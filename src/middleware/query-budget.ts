/**
 * Give each request one database time budget shared by all its statements
 * (see {@link ../runtime/query-budget.ts}).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "@/middleware/app-env.ts";
import { QueryBudget } from "@/runtime/query-budget.ts";

/** Options of {@link queryBudget}. */
export interface QueryBudgetOptions {
  /** Database time one request may use in all (DB_QUERY_TIMEOUT). */
  ms: number;
}

/**
 * From here on, `c.get("deps").db` is the request's own view of the database, drawing on a
 * fresh budget of `options.ms`.
 */
export function queryBudget(options: QueryBudgetOptions): MiddlewareHandler<AppEnv> {
  return function queryBudget(c, next) {
    const deps = c.get("deps");
    c.set("deps", { ...deps, db: deps.db.withBudget(new QueryBudget(options.ms)) });
    return next();
  };
}
