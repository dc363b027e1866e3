import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QueueClosedError, QueueFullError } from '../../lib/errors.js';
import { ThreadPool } from '../../lib/thread-pool.js';
import { RUNS } from '../helpers/runs.js';
import { cpuTask, trackedPools } from '../helpers/thread-pools.js';

const filename = cpuTask;
type Task = { spinMs?: number; counters?: SharedArrayBuffer; fail?: boolean; gate?: boolean };
type Result = { threadId: number; spins: number };

const pool = trackedPools<Task, Result>();

describe('ThreadPool', () => {
  it('rejects bad options naming the option and the value', () => {
    expect(() => new ThreadPool({ filename: '' })).toThrow(
      'Expected `filename` to be a non-empty path or a file URL, got ""',
    );
    expect(() => new ThreadPool({ filename, maxWorkers: 0 })).toThrow(
      'Expected `maxWorkers` to be an integer >= 1, got 0',
    );
    expect(() => new ThreadPool({ filename, maxQueue: -1 })).toThrow(
      'Expected `maxQueue` to be an integer >= 0 or Infinity, got -1',
    );
  });

  it('runs CPU-bound work on at most maxWorkers threads, off the event loop', async () => {
    const p = pool({ maxWorkers: 2, maxQueue: 16 });
    const counters = new SharedArrayBuffer(12);
    const view = new Int32Array(counters);
    const runs = Array.from({ length: 8 }, () => p.run({ gate: true, counters }));
    // Two tasks now block their threads on the gate. This loop is the main thread watching them: were a task
    // on the main thread, its Atomics.wait would block this loop for good (the test would time out).
    while (Atomics.load(view, 0) < 2) await new Promise((resolve) => setImmediate(resolve));
    expect(Atomics.load(view, 0)).toBe(2); // the cap, reached: the other six wait in the backlog
    Atomics.store(view, 2, 1);
    Atomics.notify(view, 2);
    const results = await Promise.all(runs);
    expect(view[1]).toBe(2); // never more than maxWorkers at once
    expect(new Set(results.map((r) => r.threadId)).size).toBe(2);
    expect(results.every((r) => r.threadId !== 0)).toBe(true); // not the main thread
  });

  it('a full backlog rejects with QueueFullError instead of growing', async () => {
    const p = pool({ maxWorkers: 1, maxQueue: 2 });
    const runs = Array.from({ length: 6 }, () =>
      p.run({ spinMs: 30 }).then(
        () => 'ok',
        (e) => e,
      ),
    );
    const outcomes = await Promise.all(runs);
    const full = outcomes.filter((o) => o instanceof QueueFullError);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(3); // one running + two queued
    expect(full).toHaveLength(3);
    expect(full[0].message).toBe('Cannot run: 1 workers busy and 2 tasks queued (maxQueue 2)');
  });

  it('an aborted task rejects with the signal’s reason; a failing task rejects with its error', async () => {
    const p = pool({ maxWorkers: 1, maxQueue: 4 });
    const blocker = p.run({ spinMs: 40 });
    const controller = new AbortController();
    const aborted = p.run({ spinMs: 10 }, { signal: controller.signal });
    controller.abort(new Error('no longer needed'));
    await expect(aborted).rejects.toThrow('no longer needed');
    await expect(p.run({ fail: true })).rejects.toThrow(/task failed on thread/);
    await blocker;
  });

  it('aborting a running task rejects its caller at once; the thread finishes and keeps the bound', async () => {
    const p = pool({ maxWorkers: 1, maxQueue: 4 });
    const counters = new SharedArrayBuffer(8);
    const controller = new AbortController();
    const first = p.run({ spinMs: 40, counters }, { signal: controller.signal });
    const second = p.run({ spinMs: 1, counters });
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error('caller gave up'));
    await expect(first).rejects.toThrow('caller gave up');
    expect(p.running).toBe(1); // the thread is still busy with the abandoned call
    await second;
    expect(new Int32Array(counters)[1]).toBe(1); // never two at once on a one-thread pool
    expect(p.peakRunning).toBe(1);
  });

  it('rejects with QueueClosedError after destroy', async () => {
    const p = pool({ maxWorkers: 1 });
    await p.destroy();
    await expect(p.run({})).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('property: random durations, failures and aborts never exceed maxWorkers, and every task settles once', async () => {
    const p = pool({ maxWorkers: 2, maxQueue: 8 });
    const counters = new SharedArrayBuffer(8);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            spinMs: fc.integer({ min: 0, max: 2 }),
            fail: fc.boolean(),
            abort: fc.boolean(),
          }),
          {
            maxLength: 8,
          },
        ),
        async (tasks) => {
          const view = new Int32Array(counters);
          Atomics.store(view, 1, 0);
          const settled = new Array(tasks.length).fill(0);
          await Promise.all(
            tasks.map((t, i) => {
              const controller = new AbortController();
              const run = p.run({ spinMs: t.spinMs, fail: t.fail, counters }, { signal: controller.signal });
              if (t.abort) queueMicrotask(() => controller.abort());
              return run.then(
                () => settled[i]++,
                () => settled[i]++,
              );
            }),
          );
          expect(settled.every((n) => n === 1)).toBe(true);
          // Aborted callers return at once; their threads finish the call. Wait for the pool to go idle.
          while (p.running > 0) await new Promise((resolve) => setImmediate(resolve));
          expect(view[0]).toBe(0);
          expect(view[1]).toBeLessThanOrEqual(2);
          expect(p.threads).toBeLessThanOrEqual(2);
          expect(p.queueSize).toBe(0);
        },
      ),
      { numRuns: RUNS },
    );
  }, 240_000);
});
