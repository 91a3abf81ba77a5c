/**
 * One database time budget per request: every statement a request runs draws on the same
 * budget (DB_QUERY_TIMEOUT), so a list that runs two statements cannot take twice as long, and
 * the database adapters set each statement's deadline to what is left. Only time with a
 * statement in flight is charged (statements running side by side are charged once): password
 * hashing or other work between statements does not eat into the database's share.
 *
 * The budget travels with the request's database: `middleware/query-budget.ts` gives each
 * request `deps.db.withBudget(new QueryBudget(ms))` as its `deps.db`, so handlers, services and
 * authenticators reach it the way they reach the database, and nothing is looked up per
 * statement. (The plain equivalent is an `AsyncLocalStorage` holding the budget, which costs an
 * async-context frame per request: bench/README.md.) Statements outside a request (cron jobs,
 * the CLI, startup) have only their own timeout.
 *
 * @module
 */

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
