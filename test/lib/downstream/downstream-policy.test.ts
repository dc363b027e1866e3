// The downstream policy end to end: real loopback servers that enforce their own capacity, the real bounded
// undici dispatcher and the real runHttpTask. Goodput and the 429 share come from the servers' own logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CapacityServer, startCapacityServer } from '../../../bench/servers/capacity-server.js';
import { startCountingServer } from '../../../bench/servers/counting-server.js';
import { createDownstream } from '../../../lib/downstream/downstream-policy.js';
import { createHttpAgents, type HttpAgents } from '../../../lib/http/agents.js';
import type { HttpTaskResult } from '../../../lib/http/http-task.js';
import type { RunHttpTaskOptions } from '../../../lib/http/run-http-task.js';
import { countsByStep, settledCount } from '../../helpers/settled-count.js';
import { FakeClock, flush } from './fake-clock.js';

let agents: HttpAgents;
const servers: CapacityServer[] = [];

async function server(options: Parameters<typeof startCapacityServer>[0]): Promise<CapacityServer> {
  const s = await startCapacityServer(options);
  servers.push(s);
  return s;
}

function tasks(s: CapacityServer, n: number, prefix = 't') {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, url: `${s.origin}/item/${i}` }));
}

beforeAll(() => {
  agents = createHttpAgents({ maxSockets: 256, maxSocketsPerHost: 128 }, { allow: ['127.0.0.1'] });
});

afterAll(async () => {
  await agents.destroy();
  await Promise.all(servers.map((s) => s.close()));
});

describe('DownstreamPolicy: fixed limits', () => {
  it('holds each host to its maxConcurrency and all hosts to the global cap', async () => {
    const a = await server({ serviceMs: 5 });
    const b = await server({ serviceMs: 5 });
    const c = await server({ serviceMs: 5 });
    const policy = createDownstream(
      { [a.host]: { maxConcurrency: 3 }, [b.host]: { maxConcurrency: 5 } },
      { global: 10 },
    );
    const results = await Promise.all(
      [...tasks(a, 60), ...tasks(b, 60), ...tasks(c, 60)].map((t) =>
        policy.run(t, { dispatcher: agents.dispatcher }),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(a.peakActive).toBe(3);
    expect(b.peakActive).toBe(5);
    expect(c.peakActive).toBeLessThanOrEqual(10);
    expect(policy.limiter.peakInFlight).toBe(10);
    expect(policy.limiter.activeKeys).toBe(0);
  });

  it('a fixed limit above the capacity gets 429s: the first wave alone over-runs it', async () => {
    // The partner's service time runs on a fake clock the test holds still: the first 4 admitted stay in
    // service, so every other request, 8 at a time, is refused (one attempt each). Counts, not rates.
    const clock = new FakeClock();
    const s = await server({ concurrency: 4, serviceMs: 200, clock });
    const policy = createDownstream({ [s.host]: { maxConcurrency: 8 } }, { clock });
    const runs = Promise.all(
      tasks(s, 16).map((t) => policy.run(t, { dispatcher: agents.dispatcher, retry: { maxAttempts: 1 } })),
    );
    expect(await settledCount(() => s.log.length, 12)).toBe(12);
    expect(s.log.every((r) => r.status === 429)).toBe(true);
    expect(s.peakActive).toBe(4);
    clock.advance(200);
    const results = await runs;
    expect(results.filter((r) => r.ok)).toHaveLength(4);
    expect(results.filter((r) => r.status === 429)).toHaveLength(12);
    expect(policy.limiter.peakInFlight).toBe(8);
  });
});

// Goodput against a fixed limit at capacity and the 429 share after warm-up are speeds: bench/downstream.ts
// measures them side by side (npm run bench -- downstream). The adaptive loop's convergence is tested on the
// fake clock (adaptive-limit.test.ts, simulated-partner.ts); here only what counts can show end to end.
describe('DownstreamPolicy: adaptive limits against real capacity', () => {
  it('429s teach the adaptive limit: it ends below its ceiling, every task succeeds; the fixed twin at capacity sees none', async () => {
    const adaptive = await server({ concurrency: 8, serviceMs: 20 });
    const twin = await server({ concurrency: 8, serviceMs: 20 });
    const policy = createDownstream({
      [adaptive.host]: { adaptive: true, maxConcurrency: 64 },
      [twin.host]: { maxConcurrency: 8 },
    });
    const work = [...tasks(adaptive, 200, 'a'), ...tasks(twin, 200, 't')];
    const results = await Promise.all(work.map((t) => policy.run(t, { dispatcher: agents.dispatcher })));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(twin.log.filter((r) => r.status === 429)).toEqual([]);
    expect(twin.log).toHaveLength(200);
    // Every 429 the adaptive host answered was retried: its log holds the 200 successes and those 429s.
    const refused = adaptive.log.filter((r) => r.status === 429).length;
    expect(adaptive.log).toHaveLength(200 + refused);
    // Slow start (4, +1 per success) soon sends more than 8 at once, so the partner refuses some, and the
    // limit is cut below its ceiling.
    expect(refused).toBeGreaterThan(0);
    expect(policy.stats(adaptive.host).adaptive?.limit).toBeLessThan(64);
  });

  it('a Retry-After pauses only that host: the other goes on, the paused one sends nothing until it ends', async () => {
    // The pause and runHttpTask's wait both run on a fake clock: the host stays paused until the test moves
    // time, so nothing here races a timer.
    const clock = new FakeClock();
    const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    const paused = await server({ serviceMs: 5, rejectFirst: 1, retryAfter: '2' });
    const other = await server({ serviceMs: 5 });
    const policy = createDownstream(
      { [paused.host]: { adaptive: true }, [other.host]: { adaptive: true } },
      { clock },
    );
    const run = (t: { id: string; url: string }) => policy.run(t, { dispatcher: agents.dispatcher, sleep });
    const first = run({ id: 'first', url: `${paused.origin}/` });
    for (let i = 0; i < 10_000 && !(policy.stats(paused.host).adaptive?.pausedForMs ?? 0); i++) await flush();
    expect(policy.stats(paused.host).adaptive?.pausedForMs).toBe(2000);
    const later = tasks(paused, 4, 'p').map(run);
    const others = await Promise.all(tasks(other, 30).map(run));
    expect(others.every((r) => r.ok)).toBe(true);
    // 30 requests to the other host came and went; the paused host has still seen only its first request.
    expect(paused.log).toHaveLength(1);
    clock.advance(2000);
    const rest: HttpTaskResult[] = await Promise.all([first, ...later]);
    expect(rest.every((r) => r.ok)).toBe(true);
    expect(rest[0].attempts).toBe(2);
    expect(paused.log.map((r) => r.status)).toEqual([429, 200, 200, 200, 200, 200]);
  });
});

describe('DownstreamPolicy: request rates', () => {
  // The partner's bucket and the policy's run on one fake clock: time moves only between the test's steps, so
  // the counts are exact (no margin for delivery jitter). Goodput is measured in bench/downstream.ts.
  it('keeps a host within its maxRequestsPerSecond: the burst at once, then the rate, and no 429 from a partner with the same bucket', async () => {
    const clock = new FakeClock();
    const s = await server({ perSecond: 100, burst: 50, serviceMs: 0, clock });
    const policy = createDownstream({ [s.host]: { maxRequestsPerSecond: 100, burst: 50 } }, { clock });
    const done = Promise.all(tasks(s, 150).map((t) => policy.run(t, { dispatcher: agents.dispatcher })));
    // 50 at once, then 10 per 100 ms.
    const expected = Array.from({ length: 11 }, (_, k) => 50 + 10 * k);
    expect(await countsByStep(clock, () => s.log.length, expected, 100)).toEqual(expected);
    const results = await done;
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(s.log.filter((r) => r.status === 429)).toEqual([]);
  });

  it('without a rate the same partner refuses the burst beyond its bucket', async () => {
    // 150 at once against the bucket of 50, one attempt each: exactly 100 refused.
    const clock = new FakeClock();
    const s = await server({ perSecond: 100, burst: 50, serviceMs: 0, clock });
    const policy = createDownstream({ [s.host]: { maxConcurrency: 150 } }, { clock });
    const results = await Promise.all(
      tasks(s, 150).map((t) => policy.run(t, { dispatcher: agents.dispatcher, retry: { maxAttempts: 1 } })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(50);
    expect(s.log.filter((r) => r.status === 429)).toHaveLength(100);
  });
});

describe('DownstreamPolicy: tasks it cannot limit, and aborts', () => {
  it('decides limited or direct: a host nothing limits goes straight to runHttpTask, unless a global cap is set', async () => {
    const s = await server({ serviceMs: 1 });
    const direct = createDownstream({});
    const limited = createDownstream({ [s.host]: { maxConcurrency: 4 } });
    const capped = createDownstream({}, { global: 8 });
    expect([direct, limited, capped].map((p) => p.limits(s.host))).toEqual([false, true, true]);
    for (const policy of [direct, limited, capped]) {
      const result = await policy.run({ id: 'one', url: `${s.origin}/` }, { dispatcher: agents.dispatcher });
      expect(result).toMatchObject({ id: 'one', ok: true, attempts: 1 });
    }
    expect([direct, limited, capped].map((p) => p.limiter.peakInFlight)).toEqual([0, 1, 1]);
  });

  it('hands a task with a bad URL to runHttpTask, which reports it', async () => {
    const policy = createDownstream({});
    const result = await policy.run({ id: 'bad', url: 'not a url' }, { dispatcher: agents.dispatcher });
    expect(result).toMatchObject({
      id: 'bad',
      ok: false,
      attempts: 0,
      error: { code: 'BF_INVALID_ARGUMENT' },
    });
  });

  it('an abort while waiting for a permit resolves to an aborted result and sends nothing', async () => {
    const s = await server({ serviceMs: 100 });
    const policy = createDownstream({ [s.host]: { maxConcurrency: 1 } });
    const running = policy.run({ id: 'running', url: `${s.origin}/` }, { dispatcher: agents.dispatcher });
    const controller = new AbortController();
    const waiting = policy.run(
      { id: 'waiting', url: `${s.origin}/` },
      { dispatcher: agents.dispatcher, signal: controller.signal },
    );
    expect(policy.stats(s.host).waiting).toBe(1);
    controller.abort();
    expect(await waiting).toMatchObject({
      id: 'waiting',
      ok: false,
      attempts: 0,
      error: { code: 'BF_ABORTED' },
    });
    expect((await running).ok).toBe(true);
    expect(s.log).toHaveLength(1);
  });

  it('asks beforeStart once the task holds its permit, not while it waits: refused then, it sends nothing', async () => {
    const s = await server({ serviceMs: 100 });
    const policy = createDownstream({ [s.host]: { maxConcurrency: 1 } });
    const running = policy.run({ id: 'running', url: `${s.origin}/` }, { dispatcher: agents.dispatcher });
    const asked: { inFlight: number; waiting: number; sent: number }[] = [];
    const stop = { name: 'RunStoppedError', code: 'STOPPED', message: 'run paused' };
    const waiting = policy.run(
      { id: 'waiting', url: `${s.origin}/` },
      {
        dispatcher: agents.dispatcher,
        beforeStart: () => {
          const { inFlight, waiting } = policy.stats(s.host);
          asked.push({ inFlight, waiting, sent: s.log.length });
          return stop;
        },
      },
    );
    expect(policy.stats(s.host).waiting).toBe(1);
    expect(asked).toEqual([]);
    expect((await running).ok).toBe(true);
    expect(await waiting).toMatchObject({
      id: 'waiting',
      ok: false,
      attempts: 0,
      retryable: true,
      error: stop,
    });
    // Asked once, holding the one permit, after the running task was answered.
    expect(asked).toEqual([{ inFlight: 1, waiting: 0, sent: 1 }]);
    expect(s.log).toHaveLength(1);
    // The refused task gave its permit back.
    expect(
      (await policy.run({ id: 'next', url: `${s.origin}/` }, { dispatcher: agents.dispatcher })).ok,
    ).toBe(true);
    expect(policy.stats(s.host).inFlight).toBe(0);
  });

  it('keys by host:port, or by host name when the config names only the host', () => {
    const policy = createDownstream({
      'api.example.com': { maxConcurrency: 2 },
      'api.example.com:8443': { maxConcurrency: 9 },
    });
    expect(policy.keyOf('https://api.example.com/x')).toBe('api.example.com');
    expect(policy.keyOf('https://API.example.com:443/y')).toBe('api.example.com');
    expect(policy.keyOf('https://api.example.com:8443/z')).toBe('api.example.com:8443');
    expect(policy.keyOf('http://api.example.com:9000/')).toBe('api.example.com');
    expect(policy.keyOf('http://other.example.com:9000/')).toBe('other.example.com:9000');
    expect(policy.limitsOf('api.example.com:8443').maxConcurrency).toBe(9);
    expect(policy.limitsOf('other.example.com:9000').maxConcurrency).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses a bad downstream entry, naming the host and the field', () => {
    expect(() => createDownstream({ 'a.example': { maxConcurrency: 0 } })).toThrow(
      'Expected `downstream["a.example"].maxConcurrency` to be an integer >= 1, got 0',
    );
    expect(() => createDownstream({ 'a.example': { maxRequestsPerSecond: -5 } })).toThrow(
      /maxRequestsPerSecond/,
    );
    expect(() => createDownstream({ 'a.example': { adaptive: 'yes' as never } })).toThrow(/adaptive/);
    expect(() => createDownstream({}, { share: 2 })).toThrow(/`share`/);
    expect(() => createDownstream({}, { global: 0 })).toThrow(/`global`/);
  });
});

describe('DownstreamPolicy: carries runHttpTask retryable decision and deadline', () => {
  it('a permanent failure is not retryable, a retryable one is, and the deadline holds through the policy', async () => {
    let clock = 0;
    const target = await startCountingServer({
      script: ({ path }) => {
        if (path === '/slow-503') clock += 600;
        return path === '/404' ? { status: 404 } : { status: 503, headers: { 'retry-after': '0' } };
      },
    });
    try {
      const host = new URL(target.url).host;
      const policy = createDownstream({ [host]: { maxConcurrency: 1, maxRequestsPerSecond: 100 } });
      const run = (path: string, extra: Partial<RunHttpTaskOptions> = {}) =>
        policy.run(
          { id: path, url: `${target.url}${path}`, timeoutMs: 1_000 },
          { dispatcher: agents.dispatcher, retry: { maxAttempts: 3 }, ...extra },
        );
      expect(await run('/404')).toMatchObject({ ok: false, status: 404, attempts: 1, retryable: false });
      expect(await run('/503')).toMatchObject({ ok: false, status: 503, attempts: 3, retryable: true });
      // Too late to start: nothing is sent.
      expect(await run('/late', { now: () => 0, deadline: 999 })).toMatchObject({
        attempts: 0,
        retryable: true,
        error: { code: 'BF_DEADLINE' },
      });
      // Each request moves the clock 600 ms: a retry would end at 600 + 1000 > 1500.
      expect(await run('/slow-503', { now: () => clock, deadline: 1_500 })).toMatchObject({
        status: 503,
        attempts: 1,
        retryable: true,
      });
      const paths = target.requests.map((r) => r.path);
      expect([paths.length, paths.filter((p) => p === '/late').length]).toEqual([5, 0]);
    } finally {
      await target.close();
    }
  });
});
