/**
 * A TCP proxy under a test's control, put between the service and a real server (MariaDB) to
 * simulate outages: `cut("refuse")` closes every connection and refuses new ones,
 * `cut("blackhole")` freezes every connection and accepts new ones without ever answering
 * (a network partition), `restore()` heals it for new connections.
 *
 * @module
 */

/** How {@link TcpProxy.cut} breaks the link. */
export type OutageMode = "refuse" | "blackhole";

interface Link {
  client: Deno.Conn;
  upstream: Deno.Conn | undefined;
  frozen: boolean;
}

/**
 * Forwards 127.0.0.1:`port` to `target`.
 *
 * @example
 * ```ts
 * const proxy = await TcpProxy.start({ hostname: "127.0.0.1", port: 3306 });
 * proxy.cut("blackhole");
 * proxy.restore();
 * await proxy.close();
 * ```
 */
export class TcpProxy {
  readonly port: number;
  readonly #target: Deno.ConnectOptions;
  #listener: Deno.Listener | undefined;
  #accepting: Promise<void> | undefined;
  #links = new Set<Link>();
  #mode: OutageMode | "open" = "open";
  #closed = false;

  private constructor(listener: Deno.Listener, target: Deno.ConnectOptions) {
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#target = target;
    this.#accepting = this.#acceptLoop(listener);
  }

  /** Listen on a free port of 127.0.0.1 and forward to `target`. */
  static start(target: Deno.ConnectOptions): Promise<TcpProxy> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return Promise.resolve(new TcpProxy(listener, target));
  }

  /** The current state. */
  get mode(): OutageMode | "open" {
    return this.#mode;
  }

  /**
   * Break the link. `refuse`: close every connection and stop listening, so new connections
   * are refused. `blackhole`: stop forwarding on every connection without closing it, and
   * accept new ones that never get an answer.
   */
  cut(mode: OutageMode = "refuse"): void {
    this.#mode = mode;
    if (mode === "refuse") {
      for (const link of this.#links) this.#drop(link);
      this.#listener?.close();
      this.#listener = undefined;
    } else {
      for (const link of this.#links) link.frozen = true;
    }
  }

  /**
   * Heal the link for new connections. Connections frozen by a black hole stay frozen and
   * open (half-open, as when the server forgot them during the partition and the client was
   * never told), unless `dropFrozen` closes them.
   */
  async restore(options: { dropFrozen?: boolean } = {}): Promise<void> {
    if (options.dropFrozen) {
      for (const link of this.#links) {
        if (link.frozen) this.#drop(link);
      }
    }
    this.#mode = "open";
    if (!this.#listener) {
      await this.#accepting;
      const listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
      this.#listener = listener;
      this.#accepting = this.#acceptLoop(listener);
    }
  }

  /** Stop listening and close every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listener?.close();
    this.#listener = undefined;
    for (const link of this.#links) this.#drop(link);
    await this.#accepting;
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch {
        return; // listener closed
      }
      const link: Link = { client, upstream: undefined, frozen: this.#mode === "blackhole" };
      this.#links.add(link);
      if (!link.frozen) void this.#forward(link);
    }
  }

  async #forward(link: Link): Promise<void> {
    try {
      link.upstream = await Deno.connect(this.#target);
    } catch {
      this.#drop(link);
      return;
    }
    if (this.#closed || !this.#links.has(link)) {
      this.#drop(link);
      return;
    }
    await Promise.all([
      this.#pipe(link, link.client, link.upstream),
      this.#pipe(link, link.upstream, link.client),
    ]);
    this.#drop(link);
  }

  /** Copy `from` to `to` until either side closes; a frozen link holds what it reads. */
  async #pipe(link: Link, from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await from.read(buffer);
      } catch {
        return;
      }
      if (n === null) return;
      if (link.frozen) continue; // swallowed: the peer never hears back
      try {
        let written = 0;
        while (written < n) written += await to.write(buffer.subarray(written, n));
      } catch {
        return;
      }
    }
  }

  #drop(link: Link): void {
    if (!this.#links.delete(link)) return;
    for (const conn of [link.client, link.upstream]) {
      try {
        conn?.close();
      } catch {
        // already closed
      }
    }
  }
}
