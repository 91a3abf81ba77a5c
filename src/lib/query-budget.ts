/**
 * One database time budget per request: every statement a request runs draws on the same
 * budget (DB_QUERY_TIMEOUT), so a list that runs two statements cannot take twice as long, and
 * the database adapters set each statement's deadline to what is left. The budget starts with
 * the request's first statement, so time spent before it (password hashing, queues) is not
 * charged to the database.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** A request's database budget: `ms` from its first statement. */
export class QueryBudget {
  #endsAt: number | undefined;

  constructor(readonly ms: number) {}

  /** When the budget runs out (epoch ms); the first call starts it. */
  endsAt(now = Date.now()): number {
    return this.#endsAt ??= now + this.ms;
  }
}

const budgets = new AsyncLocalStorage<QueryBudget>();

/**
 * Run `fn` with a fresh budget of `ms` for the statements it (and whatever it awaits) runs.
 *
 * @example
 * ```ts
 * await withQueryBudget(5_000, () => listItems(db, query)); // both statements share 5 s
 * ```
 */
export function withQueryBudget<T>(ms: number, fn: () => T): T {
  return budgets.run(new QueryBudget(ms), fn);
}

/**
 * The deadline (epoch ms) of a statement starting now: `limitMs` from now, or sooner when the
 * current request's budget ends sooner. At or before `now` when the budget is spent.
 */
export function statementDeadline(limitMs: number, now = Date.now()): number {
  const budget = budgets.getStore();
  const own = now + limitMs;
  return budget ? Math.min(own, budget.endsAt(now)) : own;
}
