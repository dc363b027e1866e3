// Node's maxTotalSockets holds the total, but shares it badly between origins: idle keep-alive sockets
// count, so an origin queued behind another origin's idle sockets waits until they time out; and when a
// socket closes, Node creates a socket only for the first queued origin, and only if it has none yet (the
// TODO in _http_agent.js removeSocket). With several origins on one agent (the SQS, Lambda and DynamoDB
// clients on one AWS agent) that stalls whole services. This puts three rules on top, using the agent's
// documented `sockets`, `freeSockets` and `requests` and its addRequest/keepSocketAlive hooks:
//   1. a request queued at the total closes one idle socket of an origin with nothing queued;
//   2. a socket freed while another origin is queued at the total is closed, not kept;
//   3. after any socket closes, the room goes to the queued origin with the fewest sockets (FIFO within it).
import type http from 'node:http';
import type { Duplex } from 'node:stream';

type Queues = Record<string, http.ClientRequest[] | undefined>;
type Internals = http.Agent & {
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void;
  keepSocketAlive(socket: Duplex): boolean;
};

const count = (list: readonly unknown[] | undefined): number => list?.length ?? 0;

/** Sockets the agent holds, busy and idle. */
function held(agent: http.Agent): number {
  let n = 0;
  for (const list of Object.values(agent.sockets)) n += count(list);
  for (const list of Object.values(agent.freeSockets)) n += count(list);
  return n;
}

function anyQueued(agent: http.Agent): boolean {
  for (const list of Object.values(agent.requests)) if (count(list) > 0) return true;
  return false;
}

/** Applies the rules to `agent`; returns the hook to call when one of its sockets has closed. */
export function shareTotalFairly(agent: http.Agent, maxTotal: number, maxPerHost: number): () => void {
  const a = agent as Internals;
  const queues = a.requests as unknown as Queues;
  const { addRequest, keepSocketAlive } = a;
  const optionsOf = new WeakMap<http.ClientRequest, http.RequestOptions>();
  let pumping = false;

  /** Rule 3: fills free room of the total from the queues, the origin with the fewest sockets first. */
  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    try {
      while (held(a) < maxTotal) {
        let best: string | undefined;
        let fewest = maxPerHost;
        for (const [name, queue] of Object.entries(queues)) {
          const n = count(a.sockets[name]) + count(a.freeSockets[name]);
          if (count(queue) > 0 && n < fewest) {
            best = name;
            fewest = n;
          }
        }
        if (best === undefined) return;
        const queue = queues[best] as http.ClientRequest[];
        const req = queue.shift() as http.ClientRequest;
        if (queue.length === 0) delete queues[best];
        addRequest.call(a, req, optionsOf.get(req) ?? {});
        if (queues[best]?.at(-1) === req) return; // queued again: no room after all
      }
    } finally {
      pumping = false;
    }
  };

  a.addRequest = function (this: Internals, req, options) {
    optionsOf.set(req, options);
    addRequest.call(this, req, options);
    // Rule 1, only for a request that just joined a queue (the tail) while the total is full.
    if (held(this) < maxTotal || !Object.values(queues).some((q) => q?.at(-1) === req)) return;
    for (const [name, free] of Object.entries(this.freeSockets)) {
      const idle = count(queues[name]) === 0 ? free?.find((s) => !s.destroyed) : undefined;
      if (idle) {
        idle.destroy();
        return;
      }
    }
  };

  a.keepSocketAlive = function (this: Internals, socket) {
    if (anyQueued(this) && held(this) >= maxTotal) return false; // rule 2
    return keepSocketAlive.call(this, socket);
  };

  // Node's own close bookkeeping runs in a later listener than ours: look at the room after it.
  return () => process.nextTick(pump);
}
