/**
 * The readiness check behind `GET /readyz`, rationed: probes arriving while a ping runs share
 * it, and at most {@link READINESS_PINGS_PER_SECOND} pings start in any second; a probe beyond
 * that gets the latest outcome. An orchestrator's probe (a few per second at most) always gets a
 * fresh answer; however many requests an outsider sends to `/readyz`, the database sees at most
 * that many pings per second.
 *
 * @module
 */

/** Pings that may start in any one second; further probes reuse the latest outcome. */
export const READINESS_PINGS_PER_SECOND = 4;
const WINDOW_MS = 1_000;

interface Outcome {
  error?: unknown;
}

/** A rationed readiness check over one `ping`. */
export class ReadinessCheck {
  #last: Outcome | undefined;
  #running: Promise<Outcome> | undefined;
  /** `performance.now()` of the latest pings' starts, oldest first. */
  readonly #starts: number[] = [];

  constructor(
    private readonly ping: () => Promise<void>,
    private readonly pingsPerSecond = READINESS_PINGS_PER_SECOND,
  ) {}

  /** Resolve when the database answered; reject with the ping's error otherwise. */
  async check(): Promise<void> {
    const outcome = await (this.#running ?? this.#rationed() ?? this.#start());
    if ("error" in outcome) throw outcome.error;
  }

  /** The latest outcome when this second's pings are used up. */
  #rationed(): Outcome | undefined {
    const oldest = this.#starts[0];
    const usedUp = this.#starts.length >= this.pingsPerSecond && oldest !== undefined &&
      performance.now() - oldest < WINDOW_MS;
    return usedUp ? this.#last : undefined;
  }

  #start(): Promise<Outcome> {
    this.#starts.push(performance.now());
    if (this.#starts.length > this.pingsPerSecond) this.#starts.shift();
    const running = this.ping().then(
      (): Outcome => ({}),
      (error: unknown): Outcome => ({ error }),
    ).then((outcome) => {
      this.#last = outcome;
      this.#running = undefined;
      return outcome;
    });
    this.#running = running;
    return running;
  }
}
