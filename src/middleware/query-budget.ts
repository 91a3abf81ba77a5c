/**
 * Give each request one database time budget shared by all its statements
 * (see {@link ../runtime/query-budget.ts}).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { Database } from "@/db/database.ts";
import type { AppEnv } from "@/middleware/app-env.ts";
import { QueryBudget } from "@/runtime/query-budget.ts";

/** Options of {@link queryBudget}. */
export interface QueryBudgetOptions {
  /** The app's database; each request gets its own budgeted view of it. */
  db: Database;
  /** Database time one request may use in all (DB_QUERY_TIMEOUT). */
  ms: number;
}

/**
 * From here on, `c.get("db")` is the request's own view of the database, drawing on a fresh
 * budget of `options.ms`.
 */
export function queryBudget(options: QueryBudgetOptions): MiddlewareHandler<AppEnv> {
  const { db } = options;
  return function queryBudget(c, next) {
    c.set("db", db.withBudget(new QueryBudget(options.ms)));
    return next();
  };
}
