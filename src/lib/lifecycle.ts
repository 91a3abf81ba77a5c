/**
 * Whether the service should receive traffic: flipped once when shutdown begins, read by
 * `/readyz` so a load balancer stops sending requests before the listener closes.
 *
 * @module
 */

/** Shared readiness state of one process. */
export class Lifecycle {
  #shuttingDown = false;

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Mark the process as draining; irreversible. */
  beginShutdown(): void {
    this.#shuttingDown = true;
  }
}
