import net from 'node:net';
import { listen } from './listen.js';
import { Tally } from './tally.js';

export interface CountingProxy {
  /** http://127.0.0.1:PORT, forwarding to the target. */
  readonly url: string;
  readonly port: number;
  /** Client connections through the proxy (`inFlight` is not counted: the proxy sees bytes, not requests). */
  readonly tally: Tally;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 to `target` (a URL or a port on 127.0.0.1) counting its client connections,
 * into its own tally and any `tallies` given (one shared by several proxies counts their sum).
 */
export async function startCountingProxy(
  target: string | number,
  { tallies = [] }: { readonly tallies?: readonly Tally[] } = {},
): Promise<CountingProxy> {
  const { hostname, port: targetPort } =
    typeof target === 'number' ? { hostname: '127.0.0.1', port: String(target) } : new URL(target);
  const tally = new Tally();
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const all = [tally, ...tallies];
  const server = net.createServer((client) => {
    for (const t of all) t.socketOpened();
    let open = true;
    const closed = () => {
      if (!open) return;
      open = false;
      for (const t of all) t.socketClosed();
    };
    // As in startCountingServer: closed at the client's FIN, a reset, or the close.
    client.once('end', closed);
    client.once('error', closed);
    client.once('close', closed);
    const upstream = net.connect(Number(targetPort), hostname === 'localhost' ? '127.0.0.1' : hostname);
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', end);
    upstream.once('error', end);
    client.once('close', end);
    upstream.once('close', end);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    tally,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
