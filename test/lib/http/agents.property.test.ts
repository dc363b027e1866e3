// A property of the caps: for random limits, random spreads of requests over three hosts, random answer
// delays, resets and client aborts, the client never holds more than maxSockets sockets, no host sees more
// than maxSocketsPerHost nor the hosts together more than maxSockets, every request settles, and no socket
// slot is left held.
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  type CountingServer,
  createTally,
  startCountingServer,
  type Tally,
} from '../../../bench/servers/counting-server.js';
import { createHttpAgents, type HttpAgents } from '../../../lib/http/index.js';

/** Three fresh hosts per run (fresh ports: no connection of an earlier run can land in this one's count). */
async function hosts(): Promise<{ servers: CountingServer[]; total: Tally }> {
  const total = createTally();
  // The path says how to answer: /reset, or /d<ms> for a delay.
  const script = (req: { path: string }) =>
    req.path === '/reset' ? { reset: true } : { delayMs: Number(req.path.slice(2)) || 0 };
  const servers = await Promise.all(
    [0, 1, 2].map(() => startCountingServer({ record: false, tallies: [total], script })),
  );
  return { servers, total };
}

/**
 * Client sockets of this process, open now and at most, seen through Node's `net.client.socket` channel
 * (independent of the code under test). An abort can close a socket before the server has even accepted
 * it; the server then counts it next to its successor, so under aborts the bound is checked here.
 */
const client = { open: 0, peak: 0, byPort: new Map<number, { open: number; peak: number }>() };
diagnostics.subscribe('net.client.socket', (message) => {
  const { socket } = message as { socket: Socket };
  if (++client.open > client.peak) client.peak = client.open;
  socket.once('close', () => client.open--);
  // Per host, counted from the connect to the close on the client's side, so the per-host cap is checked on
  // every run, aborts or not (the servers' own counts can run one over at an abort's hand-off).
  socket.once('connect', () => {
    const port = socket.remotePort!;
    const host = client.byPort.get(port) ?? { open: 0, peak: 0 };
    client.byPort.set(port, host);
    if (++host.open > host.peak) host.peak = host.open;
    socket.once('close', () => host.open--);
  });
});

const peakAt = (url: string) => client.byPort.get(Number(new URL(url).port))?.peak ?? 0;

const call = fc.record({
  host: fc.nat(2),
  answer: fc.oneof(
    { weight: 8, arbitrary: fc.nat(4).map((ms) => `/d${ms}`) },
    { weight: 1, arbitrary: fc.constant('/reset') },
  ),
  abortAfterMs: fc.option(fc.nat(5), { freq: 8 }),
});

/** One request through `kind`; resolves whatever happens (the property counts settlements). */
function send(
  agents: HttpAgents,
  kind: 'dispatcher' | 'httpAgent',
  url: string,
  abortAfterMs: number | null,
): Promise<string> {
  const controller = new AbortController();
  if (abortAfterMs !== null) setTimeout(() => controller.abort(), abortAfterMs);
  if (kind === 'dispatcher') {
    return request(url, { dispatcher: agents.dispatcher, signal: controller.signal }).then(
      async ({ body }) => {
        await body.dump().catch(() => undefined);
        return 'ok';
      },
      () => 'error',
    );
  }
  return new Promise((resolve) => {
    const req = http.get(url, { agent: agents.httpAgent, signal: controller.signal }, (res) => {
      res.resume();
      res.once('end', () => resolve('ok'));
      res.once('error', () => resolve('error'));
    });
    req.once('error', () => resolve('error'));
  });
}

describe('createHttpAgents: property', () => {
  for (const kind of ['dispatcher', 'httpAgent'] as const) {
    it(`${kind}: both caps hold under random load, failures and aborts; every request settles`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc
            .integer({ min: 1, max: 6 })
            .chain((max) => fc.tuple(fc.constant(max), fc.integer({ min: 1, max }))),
          fc.array(call, { minLength: 1, maxLength: 80 }),
          async ([maxSockets, maxSocketsPerHost], calls) => {
            const { servers, total } = await hosts();
            // The previous run's sockets were destroyed; their close events may still be on their way.
            for (let i = 0; i < 200 && client.open > 0; i++) await new Promise((r) => setTimeout(r, 5));
            expect(client.open).toBe(0);
            client.peak = 0;
            client.byPort.clear();
            const agents = createHttpAgents({ maxSockets, maxSocketsPerHost }, { allow: ['127.0.0.1'] });
            try {
              const settled = await Promise.all(
                calls.map((c) => send(agents, kind, `${servers[c.host].url}${c.answer}`, c.abortAfterMs)),
              );
              expect(settled).toHaveLength(calls.length);
              expect(client.peak).toBeLessThanOrEqual(maxSockets);
              for (const s of servers) expect(peakAt(s.url)).toBeLessThanOrEqual(maxSocketsPerHost);
              if (calls.every((c) => c.abortAfterMs === null)) {
                // The client-side count is live: every host sent a request connected at least once.
                for (const c of calls) expect(peakAt(servers[c.host].url)).toBeGreaterThan(0);
                for (const s of servers) expect(s.tally.peakSockets).toBeLessThanOrEqual(maxSocketsPerHost);
                expect(total.peakSockets).toBeLessThanOrEqual(maxSockets);
              }
              if (kind === 'dispatcher') expect(agents.budget.peak).toBeLessThanOrEqual(maxSockets);
            } finally {
              await agents.destroy();
              await Promise.all(servers.map((s) => s.close()));
            }
            if (kind === 'dispatcher') {
              // Sockets still connecting when destroyed close when their connect completes: wait for that.
              for (let i = 0; i < 200 && agents.budget.open > 0; i++)
                await new Promise((r) => setTimeout(r, 5));
              expect(agents.budget.open).toBe(0);
              expect(agents.budget.waiting).toBe(0);
            }
          },
        ),
        { numRuns: 25 },
      );
    });
  }
});
