/**
 * A loopback TCP proxy of the tests' own, in front of a real server whose
 * faults cannot be injected: it passes bytes through (TLS stays end to end,
 * so the certificate for 127.0.0.1 still verifies), refuses connections (the
 * listener is closed: ECONNREFUSED, as for a server that is down), or holds
 * new connections without ever opening the upstream side (the client's
 * request hangs before the server has seen a byte of it).
 */
import net from "node:net";

export type ProxyMode = "pass" | "refuse" | "hold";

export interface TcpProxy {
  readonly port: number;
  /** https://127.0.0.1:<port> */
  readonly url: string;
  readonly mode: ProxyMode;
  /** Connections accepted since start (any mode). */
  readonly accepted: number;
  /** Connections held open right now. */
  readonly heldCount: number;
  setMode(mode: ProxyMode): Promise<void>;
  /** Resolves once `n` connections are held. */
  waitForHeld(n?: number, timeoutMs?: number): Promise<void>;
  /** Resolves once every held connection was closed by its client. */
  waitForHeldClosed(timeoutMs?: number): Promise<void>;
  /** Cuts every held connection. */
  dropHeld(): void;
  stop(): Promise<void>;
}

export async function startTcpProxy(upstreamPort: number, upstreamHost = "127.0.0.1"): Promise<TcpProxy> {
  let mode: ProxyMode = "pass";
  let accepted = 0;
  const held = new Set<net.Socket>();
  const live = new Set<net.Socket>();
  let server: net.Server | undefined;

  const onConnection = (client: net.Socket) => {
    accepted++;
    live.add(client);
    client.on("close", () => {
      live.delete(client);
      held.delete(client);
    });
    client.on("error", () => {});
    if (mode === "hold") {
      held.add(client);
      // Read and drop: nothing reaches the server, and the client's close is still seen.
      client.on("data", () => {});
      return;
    }
    const upstream = net.connect(upstreamPort, upstreamHost);
    live.add(upstream);
    upstream.on("close", () => {
      live.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = (port: number) =>
    new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer(onConnection);
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve(s));
    });

  server = await listen(0);
  const port = (server.address() as net.AddressInfo).port;

  const closeListener = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });

  const waitFor = async (cond: () => boolean, what: string, timeoutMs: number) => {
    for (const deadline = Date.now() + timeoutMs; !cond(); await Bun.sleep(10)) {
      if (Date.now() > deadline) throw new Error(`proxy: ${what} not reached in ${timeoutMs} ms`);
    }
  };

  return {
    port,
    url: `https://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    get heldCount() {
      return held.size;
    },
    async setMode(next) {
      if (next === mode) return;
      if (next === "refuse") {
        // Established connections are cut too: the server went away.
        // (server.close() waits for them, so they go first.)
        const closing = closeListener();
        for (const s of live) s.destroy();
        await closing;
      } else if (mode === "refuse") {
        // Re-listen on the same port; retry briefly in case the kernel still holds it.
        for (let i = 0; ; i++) {
          try {
            server = await listen(port);
            break;
          } catch (e) {
            if (i > 50) throw e;
            await Bun.sleep(20);
          }
        }
      }
      mode = next;
    },
    waitForHeld: (n = 1, timeoutMs = 10_000) => waitFor(() => held.size >= n, `${n} held connection(s)`, timeoutMs),
    waitForHeldClosed: (timeoutMs = 10_000) => waitFor(() => held.size === 0, "all held connections closed", timeoutMs),
    dropHeld() {
      for (const s of held) s.destroy();
      held.clear();
    },
    async stop() {
      const closing = closeListener();
      for (const s of live) s.destroy();
      await closing;
    },
  };
}
