// The HTTP observer against a real server: requests dispatched through a function's interceptor are counted
// against that function (in flight, peak, response times); requests through any other dispatcher are not seen.
import { Agent, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import { HttpObserver } from '../../local/http-observer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(holdUntil: number) {
  const server: CountingServer = await startCountingServer({ holdUntil, holdMaxMs: 2_000 });
  const agent = new Agent({ connections: 16 });
  const observer = new HttpObserver();
  cleanups.push(
    () => server.close(),
    () => agent.close(),
  );
  const as = (functionName: string) => agent.compose(observer.interceptor(functionName));
  const get = async (dispatcher: Dispatcher, path: string) => {
    const { body, statusCode } = await dispatcher.request({ origin: server.url, path, method: 'GET' });
    await body.dump();
    return statusCode;
  };
  return { server, observer, agent, as, get };
}

describe('HttpObserver', () => {
  it('counts each function’s requests in flight, their peak and their response times; ignores the rest', async () => {
    // The server answers once 5 requests are in flight: 3 of the orchestrator's and 2 of the worker's.
    const { server, observer, agent, as, get } = await setup(5);
    const [orchestrator, worker] = [as('orchestrator'), as('worker')];
    const all = [
      get(orchestrator, '/a'),
      get(orchestrator, '/b'),
      get(orchestrator, '/c'),
      get(worker, '/d'),
      get(worker, '/e'),
    ];
    expect([observer.inFlight('orchestrator'), observer.inFlight('worker')]).toEqual([3, 2]);
    expect(await Promise.all(all)).toEqual([200, 200, 200, 200, 200]);
    await get(agent, '/outside'); // not through a function's interceptor: no task of any function
    expect([observer.inFlight('orchestrator'), observer.inFlight('worker')]).toEqual([0, 0]);
    expect([observer.peakInFlight('orchestrator'), observer.peakInFlight('worker')]).toEqual([3, 2]);
    expect(observer.latency().count).toBe(5);
    expect(server.tally.requests).toBe(6);
  });

  it('ends a request that fails (connection refused) as well: nothing stays in flight', async () => {
    const { observer } = await setup(1);
    const agent = new Agent();
    cleanups.push(() => agent.close());
    const worker = agent.compose(observer.interceptor('worker'));
    await expect(
      worker.request({ origin: 'http://127.0.0.1:1', path: '/', method: 'GET' }),
    ).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(observer.inFlight('worker')).toBe(0);
    expect(observer.peakInFlight('worker')).toBe(1);
    expect(observer.latency().count).toBe(0); // never started on a socket: no response time
  });

  it('ends a request refused before it starts (bad options): nothing stays in flight', async () => {
    const { observer, as } = await setup(1);
    const worker = as('worker');
    await expect(
      worker.request({ origin: 'http://127.0.0.1:1', path: 'no-slash', method: 'GET' }),
    ).rejects.toThrow();
    expect(observer.inFlight('worker')).toBe(0);
  });

  it('ends an aborted request: nothing stays in flight', async () => {
    const { server, observer, as } = await setup(99); // the server holds each request up to 2 s
    const worker = as('worker');
    const abort = new AbortController();
    const pending = worker.request({
      origin: server.url,
      path: '/held',
      method: 'GET',
      signal: abort.signal,
    });
    await new Promise<void>((resolve) => {
      const check = () => (server.tally.inFlight > 0 ? resolve() : setImmediate(check));
      check();
    });
    expect(observer.inFlight('worker')).toBe(1);
    abort.abort();
    await expect(pending).rejects.toThrow();
    // The caller's promise rejects at the abort; undici ends the request on the wire just after.
    await vi.waitFor(() => expect(observer.inFlight('worker')).toBe(0));
    expect(observer.latency().count).toBe(1); // it went out on a socket and ended: an attempt, timed
  });
});
