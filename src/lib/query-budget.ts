/**
 * One database time budget per request: every statement a request runs draws on the same
 * budget (DB_QUERY_TIMEOUT), so a list that runs two statements cannot take twice as long, and
 * the database adapters set each statement's deadline to what is left. Only time with a
 * statement in flight is charged (statements running side by side are charged once): password
 * hashing or other work between statements does not eat into the database's share.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** A request's database budget of `ms`, spent while at least one statement runs. */
export class QueryBudget {
  #spent = 0;
  #inFlight = 0;
  #busySince = 0;

  constructor(readonly ms: number) {}

  /**
   * A statement starts: the instant (epoch ms) the budget runs out if it is still running
   * then. Pair every call with {@link end}.
   */
  begin(now = Date.now()): number {
    if (this.#inFlight++ === 0) this.#busySince = now;
    return this.#busySince + this.ms - this.#spent;
  }

  /** A statement started with {@link begin} settled. */
  end(now = Date.now()): void {
    if (this.#inFlight > 0 && --this.#inFlight === 0) this.#spent += now - this.#busySince;
  }
}

const budgets = new AsyncLocalStorage<QueryBudget>();

/**
 * Run `fn` with a fresh budget of `ms` for the statements it (and whatever it awaits) runs.
 *
 * @example
 * ```ts ignore
 * await withQueryBudget(5_000, () => listItems(db, query)); // both statements share 5 s
 * ```
 */
export function withQueryBudget<T>(ms: number, fn: () => T): T {
  return budgets.run(new QueryBudget(ms), fn);
}

/** The budget of the request being served, if any. */
export function currentQueryBudget(): QueryBudget | undefined {
  return budgets.getStore();
}
