// A real HTTP proxy on 127.0.0.1 in front of a real endpoint, with a gate the test closes and opens: a request that
// arrives while the gate is closed is held, whole, until it opens, then passed on. So a test decides when a client's
// request reaches the endpoint (after the endpoint's process has ended, say) without touching the client's timing.
// An endpoint that is gone by then makes the proxy drop the client's connection, as the endpoint itself would have.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GateProxy {
  readonly url: string;
  /** How many requests the gate has held so far. */
  held(): number;
  /** From now on, requests wait. */
  close(): void;
  /** Passes on the requests held, and the next ones at once. */
  open(): void;
  stop(): Promise<void>;
}

export async function startGateProxy(target: string): Promise<GateProxy> {
  // One kept-alive connection to the endpoint, as the client's own SDK keeps one.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let waiting: Array<() => void> | undefined;
  let held = 0;
  const passed = () => {
    if (!waiting) return Promise.resolve();
    held++;
    const queue = waiting;
    return new Promise<void>((resolve) => queue.push(resolve));
  };
  const open = () => {
    for (const resolve of waiting ?? []) resolve();
    waiting = undefined;
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    await passed();
    const out = request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers, agent });
    out.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => res.destroy());
    out.end(Buffer.concat(chunks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held,
    close: () => {
      waiting ??= [];
    },
    open,
    stop: () =>
      new Promise((resolve) => {
        open();
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
