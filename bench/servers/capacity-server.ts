// A real HTTP server on 127.0.0.1 that enforces its own capacity, as a partner would: above `concurrency`
// requests in service, or above `perSecond` (a token bucket of `burst`), it answers 429 at once. It keeps a
// log on its own clock so tests and the bench derive goodput and the 429 share from counts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../../lib/downstream/clock.js';

export interface CapacityServerOptions {
  /** Requests served at once; one more gets 429. */
  readonly concurrency?: number;
  /** Requests accepted per second (token bucket); more get 429. */
  readonly perSecond?: number;
  /** The bucket's size. Default a fifth of a second's worth. */
  readonly burst?: number;
  /** How long a served request takes. */
  readonly serviceMs: number;
  /** Sent with each 429 when set (seconds or an HTTP-date). */
  readonly retryAfter?: string;
  /** Answer 429 to the first n requests, whatever the load (with retryAfter when set). */
  readonly rejectFirst?: number;
  /**
   * The clock of the bucket and the service time (performance.now and real timers by default): a test's
   * fake clock, shared with the policy, makes the counts exact.
   */
  readonly clock?: Clock;
}

export interface ServedRequest {
  /** Arrival and end on the server's clock (performance.now unless a clock was given). */
  readonly start: number;
  readonly end: number;
  readonly status: number;
}

export interface CapacityServer {
  readonly origin: string;
  /** host:port, the key the downstream policy limits it under. */
  readonly host: string;
  readonly log: ServedRequest[];
  readonly peakActive: number;
  /** Served (2xx) requests over the window, divided by what the capacity allows in it. */
  goodputRatio(from: number, to: number): number;
  /** The 429 share of the responses that ended in the window. */
  rejectedShare(from: number, to: number): number;
  close(): Promise<void>;
}

export async function startCapacityServer(options: CapacityServerOptions): Promise<CapacityServer> {
  const { concurrency, perSecond, serviceMs, retryAfter, rejectFirst = 0, clock = systemClock } = options;
  const burst = options.burst ?? (perSecond === undefined ? 1 : Math.max(1, Math.ceil(perSecond / 5)));
  let tokens = burst;
  let stamp = clock.now();
  let active = 0;
  let peakActive = 0;
  let arrivals = 0;
  const log: ServedRequest[] = [];

  const server = http.createServer((req, res) => {
    const start = clock.now();
    arrivals++;
    req.resume();
    if (perSecond !== undefined) {
      tokens = Math.min(burst, tokens + ((start - stamp) * perSecond) / 1000);
      stamp = start;
    }
    const overConcurrency = concurrency !== undefined && active >= concurrency;
    const overRate = perSecond !== undefined && tokens < 1;
    if (arrivals <= rejectFirst || overConcurrency || overRate) {
      res.writeHead(429, retryAfter === undefined ? {} : { 'retry-after': retryAfter });
      res.end();
      log.push({ start, end: clock.now(), status: 429 });
      return;
    }
    if (perSecond !== undefined) tokens -= 1;
    active++;
    peakActive = Math.max(peakActive, active);
    const serve = () => {
      // The slot frees as the answer leaves: the client can only send its next request after this.
      active--;
      log.push({ start, end: clock.now(), status: 200 });
      res.end('ok');
    };
    // No service time: answered at once (on a fake clock, a timer of 0 would wait for the next step).
    if (serviceMs === 0) serve();
    else clock.setTimeout(serve, serviceMs);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  // What the capacity allows per ms: the tighter of the concurrency (over the service time) and the rate.
  const capacityPerMs = Math.min(
    concurrency === undefined ? Number.POSITIVE_INFINITY : concurrency / serviceMs,
    perSecond === undefined ? Number.POSITIVE_INFINITY : perSecond / 1000,
  );

  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    log,
    get peakActive() {
      return peakActive;
    },
    goodputRatio(from, to) {
      if (
        concurrency !== undefined &&
        (perSecond === undefined || concurrency / serviceMs <= perSecond / 1000)
      ) {
        // Concurrency-bound: the share of the partner's slot-time spent serving, so a timer firing late in
        // the server (a busy machine) does not count against the client.
        let busy = 0;
        for (const r of log)
          if (r.status === 200) busy += Math.max(0, Math.min(r.end, to) - Math.max(r.start, from));
        return busy / (concurrency * (to - from));
      }
      const served = log.filter((r) => r.status === 200 && r.start >= from && r.start < to).length;
      return served / (capacityPerMs * (to - from));
    },
    rejectedShare(from, to) {
      const inWindow = log.filter((r) => r.end >= from && r.end < to);
      return inWindow.filter((r) => r.status === 429).length / Math.max(1, inWindow.length);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The window of a run after its warm-up and before its drain: from `warmUp` to `1 - tail` of its span. */
export function steadyWindow(log: readonly ServedRequest[], warmUp = 0.25, tail = 0.1): [number, number] {
  const first = Math.min(...log.map((r) => r.start));
  const last = Math.max(...log.map((r) => r.end));
  const span = last - first;
  return [first + span * warmUp, last - span * tail];
}
