// ThreadPool's edges the first mutation run of lib/thread-pool.ts (session 7: 66.29) found untested: every bad
// option refused with its exact message, the limits it reports, a run refused before any thread is taken (a
// bad signal, a destroyed pool, an already aborted signal), and the abort listener gone once the work ends.
import { getEventListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { QueueClosedError } from '../../lib/errors.js';
import { ThreadPool } from '../../lib/thread-pool.js';
import { cpuTask, trackedPools } from '../helpers/thread-pools.js';

const filename = cpuTask;
type Task = { spinMs?: number };
type Result = { threadId: number; spins: number };

const pool = trackedPools<Task, Result>();

describe('ThreadPool options', () => {
  it('refuses options that are not an object, naming them', () => {
    for (const bad of [null, undefined, 'cpu-task.mjs', 3]) {
      // biome-ignore lint/suspicious/noExplicitAny: the point is a value the types refuse
      expect(() => new ThreadPool(bad as any)).toThrow(
        `Expected \`options\` to be an object with \`filename\`, got ${bad === undefined ? 'undefined' : JSON.stringify(bad)}`,
      );
    }
  });

  it('refuses a filename that is neither a non-empty path nor a URL', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the point is a value the types refuse
    expect(() => new ThreadPool({ filename: 7 as any })).toThrow(
      'Expected `filename` to be a non-empty path or a file URL, got 7',
    );
  });

  it('refuses minWorkers below 0 or above maxWorkers, and a negative idleTimeoutMs, by name', () => {
    expect(() => new ThreadPool({ filename, minWorkers: -1 })).toThrow(
      'Expected `minWorkers` to be an integer >= 0, got -1',
    );
    expect(() => new ThreadPool({ filename, maxWorkers: 2, minWorkers: 3 })).toThrow(
      'Expected `minWorkers` to be at most maxWorkers (2), got 3',
    );
    expect(() => new ThreadPool({ filename, idleTimeoutMs: -1 })).toThrow(
      'Expected `idleTimeoutMs` to be an integer >= 0, got -1',
    );
  });

  it('takes a plain path as well as a file URL', async () => {
    const p = pool({ filename: fileURLToPath(filename), maxWorkers: 1 });
    const result = await p.run({ spinMs: 0 });
    expect(result.threadId).not.toBe(0);
  });

  it('accepts minWorkers equal to maxWorkers, and reports its limits', () => {
    const p = pool({ maxWorkers: 2, minWorkers: 2, maxQueue: 5 });
    expect(p.maxWorkers).toBe(2);
    expect(p.maxQueue).toBe(5);
    const q = pool({ maxWorkers: 3 });
    expect(q.maxQueue).toBe(9); // maxWorkers squared by default
  });
});

describe('ThreadPool.run, refused before a thread is taken', () => {
  it('refuses a signal that is not an AbortSignal, naming it', async () => {
    const p = pool({ maxWorkers: 1 });
    // biome-ignore lint/suspicious/noExplicitAny: the point is a value the types refuse
    await expect(p.run({}, { signal: {} as any })).rejects.toThrow(
      'Expected `signal` to be an AbortSignal, got {}',
    );
    expect(p.running).toBe(0);
  });

  it('refuses to run on a destroyed pool with its exact message', async () => {
    const p = pool({ maxWorkers: 1 });
    await p.destroy();
    const refused = p.run({}).catch((e: unknown) => e);
    expect(await refused).toBeInstanceOf(QueueClosedError);
    expect(((await refused) as Error).message).toBe('Cannot run: the thread pool is destroyed');
  });

  it('rejects with the reason of an already aborted signal and takes no thread', async () => {
    const p = pool({ maxWorkers: 1 });
    const reason = new Error('stopped before it began');
    await expect(p.run({ spinMs: 0 }, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(p.running).toBe(0);
    expect(p.peakRunning).toBe(0);
  });

  it('removes its abort listener from the signal once the work ends', async () => {
    const p = pool({ maxWorkers: 1 });
    const controller = new AbortController();
    const running = p.run({ spinMs: 1 }, { signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort').length).toBeGreaterThan(0);
    await running;
    // Let the `finally` after the result run.
    await new Promise((resolve) => setImmediate(resolve));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
