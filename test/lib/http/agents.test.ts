// The socket caps of the three clients createHttpAgents returns, measured on real loopback servers that
// count their open sockets and in-flight requests at every moment.
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CountingServer,
  createTally,
  startCountingServer,
  testCertificate,
} from '../../../bench/servers/counting-server.js';
import { createHttpAgents, DestinationRefusedError, type HttpAgents } from '../../../lib/http/index.js';
import { InvalidArgumentError } from '../../../lib/index.js';
import { get, type Kind, kinds } from './clients.js';

/**
 * Counts the sockets a node Agent holds open, on the client side, exactly: up at creation, down at 'close'.
 * (The server's count can run one over at a hand-off between hosts: the closed socket's FIN and the next
 * socket's SYN reach its event loop in either order.)
 */
function clientSockets(agent: http.Agent): { readonly peak: number } {
  const counter = { open: 0, peak: 0 };
  const internals = agent as http.Agent & {
    createConnection: (...args: unknown[]) => import('node:net').Socket;
  };
  const create = internals.createConnection.bind(agent);
  internals.createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    if (++counter.open > counter.peak) counter.peak = counter.open;
    socket.once('close', () => counter.open--);
    return socket;
  };
  return counter;
}

const open: Array<{ close(): Promise<void> } | HttpAgents> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => ('destroy' in o ? o.destroy() : o.close())));
});

async function server(
  kind: Kind,
  options: Parameters<typeof startCountingServer>[0] = {},
): Promise<CountingServer> {
  const s = await startCountingServer({ tls: kind === 'httpsAgent', record: false, ...options });
  open.push(s);
  return s;
}

function agents(limits: Parameters<typeof createHttpAgents>[0], allow = ['127.0.0.1']): HttpAgents {
  const a = createHttpAgents(limits, { allow, tls: { ca: testCertificate.cert } });
  open.push(a);
  return a;
}

describe('createHttpAgents: the total cap on one host', () => {
  for (const kind of kinds) {
    for (const limit of [1, 8, 64]) {
      it(`${kind} at ${limit} socket(s): 2,000 requests, the server's peak is exactly ${limit}`, async () => {
        // The server holds its answers until `limit` requests are in flight: the cap must be reached.
        const s = await server(kind, { holdUntil: limit });
        const a = agents({ maxSockets: limit });
        const statuses = await Promise.all(Array.from({ length: 2000 }, () => get(a, kind, `${s.url}/x`)));
        expect(statuses.filter((st) => st === 200)).toHaveLength(2000);
        expect(s.tally.requests).toBe(2000);
        expect(s.tally.peakSockets).toBe(limit);
        expect(s.tally.peakInFlight).toBe(limit);
        if (kind === 'dispatcher') expect(a.budget.peak).toBe(limit);
      });
    }
  }
});

describe('createHttpAgents: per-host and total caps at once', () => {
  for (const kind of kinds) {
    it(`${kind}: two hosts, 5 per host, 8 in all`, async () => {
      const total = createTally();
      const s1 = await server(kind, { delayMs: 1, tallies: [total] });
      const s2 = await server(kind, { delayMs: 1, tallies: [total] });
      const a = agents({ maxSockets: 8, maxSocketsPerHost: 5 });
      const client = kind === 'dispatcher' ? a.budget : clientSockets(a[kind]);
      // The first host's requests come first: it takes its 5, the second gets the 3 left of the total.
      const urls = Array.from({ length: 1200 }, (_, i) => `${i < 600 ? s1.url : s2.url}/y`);
      const statuses = await Promise.all(urls.map((u) => get(a, kind, u)));
      expect(statuses.every((st) => st === 200)).toBe(true);
      expect(s1.tally.requests).toBe(600);
      expect(s2.tally.requests).toBe(600);
      expect(s1.tally.peakSockets).toBe(5);
      expect(s2.tally.peakSockets).toBeLessThanOrEqual(5);
      // The client never holds more than 8, and reaches 8; the servers agree up to the hand-off race above.
      expect(client.peak).toBe(8);
      expect(total.peakSockets).toBeGreaterThanOrEqual(8);
      expect(total.peakSockets).toBeLessThanOrEqual(9);
      expect(total.peakInFlight).toBeLessThanOrEqual(8);
      // Once the first host goes quiet its slots pass to the second, which reaches its own cap too.
      expect(s2.tally.peakSockets).toBe(5);
    });

    // Idle keep-alive sockets of a quiet host hold the whole total here for 60 s; the second host must not
    // wait for them (the test would time out).
    it(`${kind}: a host gets sockets while another host's idle sockets fill the total`, {
      timeout: 20_000,
    }, async () => {
      const s1 = await server(kind);
      const s2 = await server(kind, { holdUntil: 4 });
      const a = agents({ maxSockets: 4, keepAliveMs: 60_000 });
      const first = await Promise.all(Array.from({ length: 200 }, () => get(a, kind, `${s1.url}/a`)));
      expect(first.every((st) => st === 200)).toBe(true);
      expect(s1.tally.sockets).toBe(4);
      const second = await Promise.all(Array.from({ length: 200 }, () => get(a, kind, `${s2.url}/b`)));
      expect(second.every((st) => st === 200)).toBe(true);
      expect(s1.tally.sockets + s2.tally.sockets).toBeLessThanOrEqual(4);
      expect(s2.tally.peakSockets).toBe(4);
    });
  }
});

describe('createHttpAgents: the destination guard at connect time', () => {
  for (const kind of kinds) {
    it(`${kind}: refuses loopback (by address and by a name resolving to it) without connecting`, async () => {
      const s = await server(kind);
      const a = agents({ maxSockets: 2 }, []);
      const byName = s.url.replace('127.0.0.1', 'localhost');
      for (const url of [s.url, byName]) {
        const error = await get(a, kind, url).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(DestinationRefusedError);
        expect(error).toMatchObject({ code: 'BF_DESTINATION_REFUSED', range: 'loopback' });
        // localhost may resolve to ::1 as well (most /etc/hosts list both); either is loopback.
        expect(['127.0.0.1', '::1']).toContain((error as DestinationRefusedError).address);
      }
      expect(s.tally.connections).toBe(0);
      // A refusal holds no slot.
      if (kind === 'dispatcher') expect(a.budget.open).toBe(0);
    });

    it(`${kind}: lets an allowlisted CIDR through`, async () => {
      const s = await server(kind);
      const a = agents({ maxSockets: 2 }, ['127.0.0.0/8']);
      expect(await get(a, kind, s.url)).toBe(200);
      expect(s.tally.connections).toBe(1);
    });
  }
});

describe('createHttpAgents: invalid limits', () => {
  const cases: Array<[unknown, string, string]> = [
    [{ maxSockets: 0 }, 'maxSockets', '0'],
    [{ maxSockets: 1.5 }, 'maxSockets', '1.5'],
    [{ maxSockets: '8' }, 'maxSockets', '"8"'],
    [{}, 'maxSockets', 'undefined'],
    [{ maxSockets: 8, maxSocketsPerHost: 9 }, 'maxSocketsPerHost', '9'],
    [{ maxSockets: 8, maxSocketsPerHost: 0 }, 'maxSocketsPerHost', '0'],
    [{ maxSockets: 8, keepAliveMs: -1 }, 'keepAliveMs', '-1'],
    [{ maxSockets: 8, connectTimeoutMs: Number.NaN }, 'connectTimeoutMs', 'NaN'],
    [{ maxSockets: 8, requestTimeoutMs: 0 }, 'requestTimeoutMs', '0'],
    [null, 'limits', 'null'],
  ];
  for (const [limits, option, shown] of cases) {
    it(`throws for ${option} = ${shown}`, () => {
      const call = () => createHttpAgents(limits as never);
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(`\`${option}\``);
      expect(call).toThrow(`got ${shown}`);
    });
  }

  it('throws for a bad allowlist entry, naming its index', () => {
    const call = () => createHttpAgents({ maxSockets: 1 }, { allow: ['10.0.0.0/8', 'not a host!'] });
    expect(call).toThrow(InvalidArgumentError);
    expect(call).toThrow('`allow[1]`');
    expect(call).toThrow('"not a host!"');
  });
});
