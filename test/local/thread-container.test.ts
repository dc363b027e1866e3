// Lambda containers on worker threads (local/thread-container.ts), with real threads: a scripted handler
// module (fixtures/thread-handlers.ts) spins, throws, crashes, logs and makes HTTP requests. Counts, never time.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FunctionLogs } from '../../local/function-logs.js';
import { HttpObserver } from '../../local/http-observer.js';
import { FunctionThrottledError, FunctionTimeoutError, LocalFunction } from '../../local/local-function.js';
import { EventSourcePoller } from '../../local/poller.js';
import { queueDepth } from '../../local/queue-depth.js';
import { type ThreadContainer, threadContainers } from '../../local/thread-container.js';
import { ThreadObservations } from '../../local/thread-observations.js';
import { backend, drainBodies, freshResources, sendBodies, waitFor } from './fixtures/aws.js';

const module = new URL('./fixtures/thread-handlers.ts', import.meta.url).href;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function fn(
  name: string,
  {
    reservedConcurrency = 4,
    timeoutMs = 30_000,
    memoryMb,
  }: { reservedConcurrency?: number; timeoutMs?: number; memoryMb?: number } = {},
) {
  const observations = new ThreadObservations({ functionNames: [name] });
  const f = new LocalFunction({
    name,
    timeoutMs,
    reservedConcurrency,
    container: threadContainers({ kind: { module }, functionName: name, observations, memoryMb }),
  });
  cleanups.push(async () => {
    for (const c of f.containers) await (c as ThreadContainer).destroy();
  });
  return { f, observations };
}

const flag = () => new Int32Array(new SharedArrayBuffer(8)); // [stop, started]

describe('ThreadContainer', () => {
  it("one container's CPU-bound work does not stall another's invocations", async () => {
    const { f } = fn('spin-two');
    const stop = flag();
    let spinning = true;
    const spin = f.invoke({ op: 'spin', flag: stop.buffer }).finally(() => {
      spinning = false;
    });
    await waitFor(() => Atomics.load(stop, 1) === 1, 'the first container to spin');
    // While the first container spins (it can only end when the flag is set), a second one runs 20 invocations.
    let done = 0;
    for (let i = 0; i < 20; i++) {
      expect(await f.invoke({ op: 'echo', n: i })).toBe(i);
      done++;
    }
    expect(spinning).toBe(true);
    expect(done).toBe(20);
    Atomics.store(stop, 0, 1);
    expect(await spin).toBe(true);
    expect(f.stats).toMatchObject({ invocations: 21, errors: 0, containers: 2, coldStarts: 2 });
  });

  it('holds the concurrency cap: at most reservedConcurrency containers, throttled above, warm ones reused', async () => {
    const { f } = fn('cap', { reservedConcurrency: 3 });
    const stop = flag();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) =>
        i < 3 ? f.invoke({ op: 'spin', flag: stop.buffer }) : f.invoke({ op: 'echo', n: i }),
      ).map((p, i) => (i === 4 ? p.finally(() => Atomics.store(stop, 0, 1)) : p)),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(rejected.map((o) => o.reason instanceof FunctionThrottledError)).toEqual([true, true]);
    for (let round = 0; round < 2; round++) {
      await Promise.all(Array.from({ length: 3 }, (_, n) => f.invoke({ op: 'echo', n })));
    }
    expect(f.stats).toMatchObject({ throttles: 2, peakInFlight: 3, containers: 3, coldStarts: 3 });
    // Each container keeps its own module state: 9 invocations over 3 instances of the handler module.
    const states = await Promise.all([0, 1, 2].map(() => f.invoke({ op: 'state' })));
    expect((states as number[]).reduce((a, b) => a + b)).toBe(9 + 3);
  });

  it('a handler that throws fails its invocation with its error; the container stays warm', async () => {
    const { f } = fn('throws');
    const error = await f.invoke({ op: 'throw' }).catch((e: unknown) => e as Error & { code?: string });
    expect(error).toMatchObject({ name: 'TypeError', message: 'scripted failure', code: 'SCRIPTED' });
    expect(await f.invoke({ op: 'echo', n: 1 })).toBe(1);
    expect(f.stats).toMatchObject({ invocations: 2, errors: 1, containers: 1, coldStarts: 1 });
  });

  it('a timed-out invocation terminates its thread at once, which is replaced on the next invocation', async () => {
    const { f } = fn('timeout', { timeoutMs: 300 });
    await f.invoke({ op: 'echo', n: 0 }); // the cold start is outside the timeout
    const [first] = f.containers as ThreadContainer[];
    await expect(f.invoke({ op: 'spin-forever' })).rejects.toBeInstanceOf(FunctionTimeoutError);
    // The slot is free at the timeout, as Lambda frees it; the spin never ends by itself: the thread is terminated.
    expect(f.inFlight).toBe(0);
    await waitFor(() => first.broken, 'the timed-out container to be terminated');
    expect(f.containers).toEqual([]);
    expect(await f.invoke({ op: 'echo', n: 2 })).toBe(2);
    expect(f.stats).toMatchObject({ invocations: 3, errors: 1, containers: 1, coldStarts: 2 });
  });

  it('a thread that crashes fails its invocation and is replaced', async () => {
    const { f } = fn('crash');
    await expect(f.invoke({ op: 'crash' })).rejects.toThrow('scripted crash');
    expect(f.containers).toEqual([]);
    expect(await f.invoke({ op: 'echo', n: 3 })).toBe(3);
    expect(f.stats).toMatchObject({ errors: 1, containers: 1, coldStarts: 2 });
  });

  it("the function's memory setting is the thread's heap limit: a handler that outgrows it ends its container", async () => {
    const { f } = fn('memory', { memoryMb: 64 });
    // 32 MiB fits a 64 MiB heap; 256 MiB does not, and only the limit stops it (the process has gigabytes).
    expect(await f.invoke({ op: 'hog', mb: 32 })).toBe('survived');
    const [first] = f.containers as ThreadContainer[];
    await expect(f.invoke({ op: 'hog', mb: 256 })).rejects.toMatchObject({
      code: 'ERR_WORKER_OUT_OF_MEMORY',
    });
    expect(first.broken).toBe(true);
    expect(f.containers).toEqual([]);
    expect(await f.invoke({ op: 'echo', n: 4 })).toBe(4);
    expect(f.stats).toMatchObject({ invocations: 3, errors: 1, containers: 1, coldStarts: 2 });
  });

  it("hands the thread's log lines over with its answers: function-logs counts them as in process", async () => {
    const lines: string[] = [];
    const logs = new FunctionLogs((line) => lines.push(line)).start();
    cleanups.push(() => logs.stop());
    const { f } = fn('logs');
    await Promise.all([f.invoke({ op: 'log', lines: 3 }), f.invoke({ op: 'log', lines: 4 })]);
    expect(lines.filter((l) => l.includes('"level":"INFO"'))).toHaveLength(7);
    expect(logs.metric('fixture', 'Lines')).toBe(7);
  });

  it("counts the threads' task requests in flight, their peak and latency in shared counters", async () => {
    // The server answers once `n` requests are open at once, so the peak in flight is exactly n.
    const n = 6;
    const open: (() => void)[] = [];
    const server: Server = createServer((_, res) => {
      open.push(() => res.end('ok'));
      if (open.length % n === 0) for (const end of open.splice(0)) end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const { f, observations } = fn('requests');
    const observer = new HttpObserver().include(observations);
    expect(await f.invoke({ op: 'requests', url, n })).toBe(n);
    expect(await f.invoke({ op: 'requests', url, n })).toBe(n);
    expect(observer.peakInFlight('requests')).toBe(n);
    expect(observer.inFlight('requests')).toBe(0);
    expect(observer.latency().count).toBe(2 * n);
  });

  it('with the poller: a batch that throws, crashes or times out is redelivered, and no message is lost', async () => {
    const { resources, sqs } = await freshResources('threads', {
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: 3,
    });
    const { f } = fn('poller-worker', { timeoutMs: 500 });
    const poller = new EventSourcePoller({
      sqs,
      queueUrl: resources.queueUrl,
      queueArn: resources.queueArn,
      worker: f,
      batchSize: 1,
      maxConcurrency: 2,
      region: backend().region,
    });
    cleanups.push(async () => {
      await poller.stop();
      sqs.destroy();
    });
    await sendBodies(sqs, resources.queueUrl, ['ok:1', 'spin', 'throw', 'crash', 'ok:2']);
    poller.start();
    await waitFor(
      async () => poller.inFlight === 0 && (await queueDepth(sqs, resources.queueUrl)).total === 0,
      'every message to be handled',
    );
    expect(poller.stats.invocationErrors).toBe(3);
    expect(f.stats.errors).toBe(3);
    expect(await drainBodies(sqs, resources.deadLetterQueueUrl)).toEqual([]);
    // The spinning and the crashed threads were replaced; none was reused.
    expect(f.containers.every((c) => !(c as ThreadContainer).broken)).toBe(true);
  });
});
