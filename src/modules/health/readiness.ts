/**
 * The readiness check behind `GET /readyz`, rationed: one database ping answers every probe
 * for {@link READINESS_CACHE_MS}, and probes arriving while a ping runs share it. However many
 * requests an outsider sends to `/readyz`, the service pings the database at most about four
 * times per second.
 *
 * @module
 */

/** How long one ping's outcome answers `/readyz`. */
export const READINESS_CACHE_MS = 250;

interface Outcome {
  /** `performance.now()` when the ping finished. */
  at: number;
  error?: unknown;
}

/** A rationed readiness check over one `ping`. */
export class ReadinessCheck {
  #last: Outcome | undefined;
  #running: Promise<Outcome> | undefined;

  constructor(
    private readonly ping: () => Promise<void>,
    private readonly cacheMs = READINESS_CACHE_MS,
  ) {}

  /** Resolve when the database answered (recently); reject with the ping's error otherwise. */
  async check(): Promise<void> {
    const outcome = this.#fresh() ?? await this.#pingOnce();
    if ("error" in outcome) throw outcome.error;
  }

  #fresh(): Outcome | undefined {
    const last = this.#last;
    return last && performance.now() - last.at < this.cacheMs ? last : undefined;
  }

  #pingOnce(): Promise<Outcome> {
    this.#running ??= this.ping().then(
      () => ({ at: performance.now() }),
      (error: unknown) => ({ at: performance.now(), error }),
    ).then((outcome) => {
      this.#last = outcome;
      this.#running = undefined;
      return outcome;
    });
    return this.#running;
  }
}
