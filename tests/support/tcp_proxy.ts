// A TCP proxy on 127.0.0.1 that a test cuts and restores, to make a broker outage without
// stopping the shared broker.

export interface TcpProxy {
  /** `127.0.0.1:<port>` the service connects to instead of the target. */
  readonly host: string;
  readonly port: number;
  /** True while connections are passed through. */
  readonly open: boolean;
  /** Connections made through the proxy so far. */
  readonly accepted: number;
  /** Closes every connection at once and refuses new ones (they are closed as they arrive). */
  cut(): void;
  /** Passes new connections through again. */
  restore(): void;
  close(): Promise<void>;
}

/** Forwards connections from a free local port to `target` (`host:port`). */
export function startTcpProxy(target: { hostname: string; port: number }): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const live = new Set<Deno.Conn>();
  let open = true;
  let accepted = 0;

  const closeQuietly = (conn: Deno.Conn) => {
    live.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  };

  async function pipe(from: Deno.Conn, to: Deno.Conn) {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: false });
    } catch {
      // either side closed
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  async function serve(client: Deno.Conn) {
    if (!open) return closeQuietly(client);
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect(target);
    } catch {
      return closeQuietly(client);
    }
    if (!open) {
      closeQuietly(upstream);
      return closeQuietly(client);
    }
    accepted++;
    live.add(client);
    live.add(upstream);
    pipe(client, upstream);
    pipe(upstream, client);
  }

  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })().catch(() => {});

  return {
    host: `127.0.0.1:${port}`,
    port,
    get open() {
      return open;
    },
    get accepted() {
      return accepted;
    },
    cut() {
      open = false;
      for (const conn of [...live]) closeQuietly(conn);
    },
    restore() {
      open = true;
    },
    async close() {
      open = false;
      for (const conn of [...live]) closeQuietly(conn);
      listener.close();
      await accepting;
    },
  };
}
