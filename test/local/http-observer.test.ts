// The HTTP observer against a real server: requests made inside an invocation's scope are counted against its
// function (in flight, peak, response times); requests made outside any invocation are not seen.
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import { HttpObserver } from '../../local/http-observer.js';
import { invocationScope } from '../../local/invocation-scope.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(holdUntil: number) {
  const server: CountingServer = await startCountingServer({ holdUntil, holdMaxMs: 2_000 });
  const agent = new Agent({ connections: 16 });
  const observer = new HttpObserver().start();
  cleanups.push(
    () => server.close(),
    () => agent.close(),
    () => observer.stop(),
  );
  const get = async (path: string) => {
    const { body, statusCode } = await agent.request({ origin: server.url, path, method: 'GET' });
    await body.dump();
    return statusCode;
  };
  return { server, observer, get };
}

describe('HttpObserver', () => {
  it('counts each function’s requests in flight, their peak and their response times; ignores the rest', async () => {
    // The server answers once 5 requests are in flight: 3 of the orchestrator's and 2 of the worker's.
    const { server, observer, get } = await setup(5);
    const inScope = (functionName: string, path: string) =>
      invocationScope.run({ functionName }, () => get(path));
    const all = [
      inScope('orchestrator', '/a'),
      inScope('orchestrator', '/b'),
      inScope('orchestrator', '/c'),
      inScope('worker', '/d'),
      inScope('worker', '/e'),
    ];
    expect([observer.inFlight('orchestrator'), observer.inFlight('worker')]).toEqual([3, 2]);
    expect(await Promise.all(all)).toEqual([200, 200, 200, 200, 200]);
    await get('/outside'); // no invocation: not a task of any function
    expect([observer.inFlight('orchestrator'), observer.inFlight('worker')]).toEqual([0, 0]);
    expect([observer.peakInFlight('orchestrator'), observer.peakInFlight('worker')]).toEqual([3, 2]);
    expect(observer.latency().count).toBe(5);
    expect(server.tally.requests).toBe(6);
  });

  it('ends a request that fails (connection refused) as well: nothing stays in flight', async () => {
    const { observer } = await setup(1);
    const agent = new Agent();
    cleanups.push(() => agent.close());
    await expect(
      invocationScope.run({ functionName: 'worker' }, () =>
        agent.request({ origin: 'http://127.0.0.1:1', path: '/', method: 'GET' }),
      ),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(observer.inFlight('worker')).toBe(0);
    expect(observer.peakInFlight('worker')).toBe(1);
    expect(observer.latency().count).toBe(0); // never written to a socket: no response time
  });
});
