/**
 * Load shedding: at most `maxInFlight` requests are worked on at once; up to `queueLimit` more
 * wait their turn, each for at most `queueTimeoutMs`; anything beyond is refused at once.
 * Without it, every request was admitted into the database pool's long queue and waited there
 * until its deadline, so under overload most work was done for answers nobody got in time
 * (see README, "Overload").
 *
 * @module
 */
import { type Deadline, DeadlineQueue } from "@/runtime/deadlines.ts";

/** Options of {@link AdmissionGate}. */
export interface AdmissionOptions {
  /** Requests worked on at once. */
  maxInFlight: number;
  /** Requests that may wait for a slot; beyond them, refusal is immediate. */
  queueLimit: number;
  /** Longest a request waits for a slot before it is refused. */
  queueTimeoutMs: number;
}

/** A request waiting for a slot. */
interface Waiter {
  admit: (admitted: boolean) => void;
  deadline: Deadline | undefined;
  waiting: boolean;
}

/**
 * A counting semaphore with a bounded, deadline-limited FIFO queue.
 *
 * @example
 * ```ts
 * const gate = new AdmissionGate({ maxInFlight: 64, queueLimit: 64, queueTimeoutMs: 500 });
 * const admitted = gate.enter();
 * if (admitted === true || (admitted !== false && await admitted)) {
 *   try {
 *     // handle the request
 *   } finally {
 *     gate.leave();
 *   }
 * }
 * ```
 */
export class AdmissionGate {
  readonly #maxInFlight: number;
  readonly #queueLimit: number;
  readonly #deadlines: DeadlineQueue;
  #inFlight = 0;
  /** Waiters in arrival order; `#head` is the oldest still in the array. */
  #queue: Waiter[] = [];
  #head = 0;
  #waiting = 0;

  constructor(options: AdmissionOptions) {
    this.#maxInFlight = options.maxInFlight;
    this.#queueLimit = options.queueLimit;
    this.#deadlines = new DeadlineQueue(options.queueTimeoutMs);
  }

  /** Requests being worked on. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Take a slot: `true` (admitted now), `false` (refused now), or a promise of either once the
   * request has waited its turn. Every admitted request must call {@link leave} once.
   */
  enter(): boolean | Promise<boolean> {
    if (this.#inFlight < this.#maxInFlight) {
      this.#inFlight++;
      return true;
    }
    if (this.#waiting >= this.#queueLimit) return false;
    return new Promise<boolean>((admit) => {
      const waiter: Waiter = { admit, deadline: undefined, waiting: true };
      waiter.deadline = this.#deadlines.add(() => {
        waiter.waiting = false;
        this.#waiting--;
        admit(false);
      });
      this.#queue.push(waiter);
      this.#waiting++;
    });
  }

  /** Give a slot back: the oldest waiter still waiting gets it. */
  leave(): void {
    while (this.#head < this.#queue.length) {
      const waiter = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Waiter;
      if (!waiter.waiting) continue;
      waiter.waiting = false;
      this.#waiting--;
      this.#deadlines.remove(waiter.deadline!);
      this.#compact();
      waiter.admit(true);
      return;
    }
    this.#compact();
    this.#inFlight--;
  }

  /** Drop the consumed front of the queue now and then, so it never grows without bound. */
  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
