// A TCP proxy (to Postgres) that can stop forwarding, so that a test sees a database that hangs
// (no error, no answer) without stopping any server.

export interface HoldingProxy {
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  /** Stops forwarding in both directions; connections stay open, new ones are accepted. */
  hold(): void;
  /** Forwards again, what was held first. */
  release(): void;
  close(): Promise<void>;
}

export function startHoldingProxy(target: { hostname: string; port: number }): HoldingProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let held: PromiseWithResolvers<void> | undefined;
  const passable = () => held?.promise;

  /** Copies `from` to `to`, chunk by chunk, each chunk waiting while the proxy is held. */
  async function pump(from: Deno.Conn, to: Deno.Conn) {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        await passable();
        let at = 0;
        while (at < n) at += await to.write(buffer.subarray(at, n));
      }
    } catch {
      // either side closed
    }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch {
        // already closed
      }
      open.delete(conn);
    }
  }

  const accepting = (async () => {
    for await (const client of listener) {
      open.add(client);
      (async () => {
        await passable(); // a held database does not even answer a new connection
        const server = await Deno.connect(target).catch(() => undefined);
        if (!server) return client.close();
        open.add(server);
        void pump(client, server);
        void pump(server, client);
      })();
    }
  })().catch(() => {});

  const port = (listener.addr as Deno.NetAddr).port;
  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    hold() {
      held ??= Promise.withResolvers<void>();
    },
    release() {
      held?.resolve();
      held = undefined;
    },
    async close() {
      this.release();
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
    },
  };
}
