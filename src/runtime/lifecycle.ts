/**
 * Shutdown state of one process: flipped once when shutdown begins (read by `/readyz` and by
 * the request context, which turns new requests away), plus a count of request bodies still
 * being uploaded. Deno's `server.shutdown()` cuts bodies that are mid-upload, so the drain
 * waits for those uploads before it closes the listener.
 *
 * @module
 */

/** Shared readiness state of one process. */
export class Lifecycle {
  #shuttingDown = false;
  #uploads = 0;
  #uploadsDone: Array<() => void> = [];

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Mark the process as draining; irreversible. */
  beginShutdown(): void {
    this.#shuttingDown = true;
  }

  /** Count `upload` (a body being read) as in flight until it settles. */
  async trackUpload<T>(upload: Promise<T>): Promise<T> {
    this.#uploads++;
    try {
      return await upload;
    } finally {
      if (--this.#uploads === 0) {
        for (const resolve of this.#uploadsDone.splice(0)) resolve();
      }
    }
  }

  /** Resolves when no body is being uploaded, or after `timeoutMs`; true when none is left. */
  uploadsFinished(timeoutMs: number): Promise<boolean> {
    if (this.#uploads === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#uploadsDone.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
