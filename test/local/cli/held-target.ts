// A target HTTP server on 127.0.0.1 that holds every task's request until the test releases it, then answers 200
// at once: a run stays running, with its tasks in flight, for as long as a test needs it to.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldTarget {
  readonly url: string;
  /** Requests held now. */
  arrived(): number;
  /** Requests received so far, per path. */
  readonly requests: ReadonlyMap<string, number>;
  /** Holds the requests that come from now on. */
  hold(): void;
  /** Answers the held requests, and the next ones at once. */
  release(): void;
  close(): Promise<void>;
}

export async function startHeldTarget(): Promise<HeldTarget> {
  const waiting: ServerResponse[] = [];
  const requests = new Map<string, number>();
  let released = false;
  const server = createServer((req, res) => {
    req.resume();
    requests.set(req.url ?? '', (requests.get(req.url ?? '') ?? 0) + 1);
    if (released) res.end('ok');
    else waiting.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const release = () => {
    released = true;
    for (const res of waiting.splice(0)) res.end('ok');
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrived: () => waiting.length,
    requests,
    hold: () => {
      released = false;
    },
    release,
    close: async () => {
      release();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Waits (bounded: 30 s) until the target holds `n` requests. */
export async function heldReach(target: HeldTarget, n: number): Promise<void> {
  for (let i = 0; i < 600 && target.arrived() < n; i++) await new Promise((r) => setTimeout(r, 50));
  if (target.arrived() < n) throw new Error(`the target holds ${target.arrived()} requests, not ${n}`);
}
