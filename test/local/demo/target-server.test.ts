// The demo's target server against a real client (undici, bounded to N connections): it answers as each
// query asks and its own counts of sockets and requests in flight match what the client was allowed.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetServer } from '../../../local/demo/target-server.js';

let server: TargetServer;
beforeAll(async () => {
  server = await TargetServer.start({ retryAfterSeconds: 2 });
});
afterAll(async () => {
  await server.close();
});

async function get(agent: Agent, path: string) {
  const res = await request(`${server.url}${path}`, { dispatcher: agent });
  const body = await res.body.text();
  return { status: res.statusCode, retryAfter: res.headers['retry-after'], body };
}

describe('TargetServer', () => {
  it('answers ok, throttles a path the asked number of times with Retry-After, and fails for good', async () => {
    const agent = new Agent({ connections: 1 });
    try {
      expect(await get(agent, '/task/a?ms=5')).toMatchObject({ status: 200 });
      expect(await get(agent, '/task/b?throttle=2')).toMatchObject({ status: 429, retryAfter: '2' });
      expect(await get(agent, '/task/b?throttle=2')).toMatchObject({ status: 429, retryAfter: '2' });
      expect(await get(agent, '/task/b?throttle=2')).toMatchObject({ status: 200 });
      // Paid once, a redelivered task is not throttled again.
      expect(await get(agent, '/task/b?throttle=2')).toMatchObject({ status: 200 });
      expect(await get(agent, '/task/c?fail=500')).toMatchObject({ status: 500 });
      expect(await get(agent, '/task/c?fail=500')).toMatchObject({ status: 500 });
      expect(await get(agent, '/task/d?fail=404')).toMatchObject({ status: 404 });
    } finally {
      await agent.close();
    }
    expect(server.stats().statuses).toMatchObject({ 200: 3, 429: 2, 500: 2, 404: 1 });
  });

  it.each([1, 8, 32])(
    'counts at most %i sockets and requests at once from a client capped at that',
    async (cap) => {
      const fresh = await TargetServer.start();
      const agent = new Agent({ connections: cap });
      try {
        await Promise.all(
          Array.from({ length: cap * 6 }, (_, i) =>
            request(`${fresh.url}/task/${i}?ms=15`, { dispatcher: agent }).then((r) => r.body.text()),
          ),
        );
      } finally {
        await agent.close();
        await fresh.close();
      }
      const stats = fresh.stats();
      expect(stats.requests).toBe(cap * 6);
      expect(stats.peakSockets).toBe(cap);
      expect(stats.peakInFlight).toBe(cap);
      expect(stats.inFlight).toBe(0);
      expect(stats.openSockets).toBe(0);
    },
  );

  it('counts the requests in flight by their via tag, and times every response', async () => {
    const fresh = await TargetServer.start();
    const agent = new Agent({ connections: 8 });
    try {
      const tagged = Array.from({ length: 5 }, (_, i) =>
        request(`${fresh.url}/task/v${i}?ms=300&via=inline`, { dispatcher: agent }).then((r) =>
          r.body.text(),
        ),
      );
      const untagged = request(`${fresh.url}/task/u?ms=300`, { dispatcher: agent }).then((r) =>
        r.body.text(),
      );
      while (fresh.stats().inFlight < 6) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(fresh.inFlightOf('inline')).toBe(5);
      expect(fresh.inFlightOf('queue')).toBe(0);
      await Promise.all([...tagged, untagged]);
      expect(fresh.inFlightOf('inline')).toBe(0);
      const latency = fresh.latency();
      expect(latency.count).toBe(6);
      expect(latency.p50).toBeGreaterThanOrEqual(250);
    } finally {
      await agent.close();
      await fresh.close();
    }
  });

  it('refuses bad options naming them', async () => {
    await expect(TargetServer.start({ port: -1 })).rejects.toThrow(
      'Expected `port` to be an integer >= 0, got -1',
    );
  });
});
