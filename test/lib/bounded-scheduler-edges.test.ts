// The bounded scheduler's edges, through runBounded, by exact values: a signal aborted before the start runs
// nothing, a source that throws on open or on next() rejects with that error, the source's iterator is closed
// once (not at all once exhausted), and the listener on the caller's signal is gone at the end.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runBounded } from '../../lib/run-bounded.js';
import { Semaphore } from '../../lib/semaphore.js';
import { collectUnhandled } from '../helpers/runs.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** An iterable over `items` that counts the calls to its iterator's return(). */
function counted(items: number[]) {
  const counts = { returns: 0 };
  const source = {
    [Symbol.iterator]() {
      const inner = items[Symbol.iterator]();
      return {
        next: () => inner.next(),
        return: () => {
          counts.returns++;
          return { value: undefined, done: true as const };
        },
      };
    },
  };
  return { source, counts };
}

describe('runBounded: a source or signal that stops it before anything runs', () => {
  it('a signal aborted before the start rejects with its reason and calls fn never', async () => {
    const reason = new Error('before');
    let called = 0;
    const run = runBounded([1, 2], () => called++, { concurrency: 2, signal: AbortSignal.abort(reason) });
    await expect(run).rejects.toBe(reason);
    expect(called).toBe(0);
  });

  it('a source whose iterator cannot be opened rejects with that error', async () => {
    const error = new Error('cannot open');
    const source = {
      [Symbol.iterator](): Iterator<number> {
        throw error;
      },
    };
    await expect(runBounded(source, (n) => n, { concurrency: 2 })).rejects.toBe(error);
  });

  it('a sync next() that throws rejects with that error after the items taken before it', async () => {
    const error = new Error('next failed');
    let pulls = 0;
    const seen: number[] = [];
    const source = {
      [Symbol.iterator]: () => ({
        next: () => {
          if (++pulls === 2) throw error;
          return { value: pulls, done: false };
        },
      }),
    };
    await expect(runBounded(source, (n) => seen.push(n), { concurrency: 3 })).rejects.toBe(error);
    expect([pulls, seen]).toEqual([2, [1]]);
  });

  it('an async next() that throws synchronously rejects with that error', async () => {
    const error = new Error('async next failed');
    const source = {
      [Symbol.asyncIterator]: () => ({
        next: (): Promise<IteratorResult<number>> => {
          throw error;
        },
      }),
    };
    await expect(runBounded(source, (n) => n, { concurrency: 2 })).rejects.toBe(error);
  });
});

describe('runBounded: a pull that fails after the stop', () => {
  it('is ignored: its permit went back at the stop, and nothing is left unhandled', async () => {
    // A generic async iterator's pending next() cannot be withdrawn: the stop gives its permit back at once,
    // and the late rejection must find no slot to give back a second time (with a Semaphore, no release).
    const sem = new Semaphore(1);
    const controller = new AbortController();
    let failPull!: (error: Error) => void;
    const source = {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<number>>((_resolve, reject) => {
            failPull = reject;
          }),
      }),
    };
    const unhandled = await collectUnhandled(async () => {
      const run = runBounded(source, (n) => n, { concurrency: sem, signal: controller.signal });
      await tick();
      expect(sem.inFlight).toBe(1);
      controller.abort(new Error('stopped'));
      await expect(run).rejects.toThrow('stopped');
      expect(sem.inFlight).toBe(0);
      failPull(new Error('late pull failure'));
      await tick();
    });
    expect([unhandled, sem.inFlight, sem.waiting]).toEqual([[], 0, 0]);
  });
});

describe('runBounded: closing the source iterator', () => {
  it('is not done once the source is exhausted, even when a task then fails with stopOnError', async () => {
    const { source, counts } = counted([1, 2]);
    const failure = new Error('late failure');
    const run = runBounded(
      source,
      async (n) => {
        await tick();
        if (n === 2) throw failure;
        return n;
      },
      { concurrency: 5, stopOnError: true },
    );
    await expect(run).rejects.toBe(failure);
    expect(counts.returns).toBe(0);
  });

  it('is done once when a stopOnError failure is followed by an abort', async () => {
    const { source, counts } = counted([1, 2, 3, 4]);
    const failure = new Error('first');
    const controller = new AbortController();
    let finishSlow!: () => void;
    const run = runBounded(
      source,
      (n) => {
        if (n === 1) return Promise.reject(failure);
        return new Promise<void>((resolve) => {
          finishSlow = resolve;
        });
      },
      { concurrency: 2, stopOnError: true, signal: controller.signal },
    );
    await tick();
    expect(counts.returns).toBe(1); // stopped at the failure
    controller.abort(new Error('then aborted'));
    await expect(run).rejects.toThrow('then aborted');
    expect(counts.returns).toBe(1);
    finishSlow();
  });
});

describe('runBounded: the listener on the caller signal', () => {
  it('is removed when the run ends, whether it finished or failed', async () => {
    const controller = new AbortController();
    const { signal } = controller;
    const run = runBounded([1, 2, 3], async (n) => n, { concurrency: 2, signal });
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    await run;
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    const failing = runBounded(
      [1],
      () => {
        throw new Error('x');
      },
      { concurrency: 1, signal, stopOnError: true },
    );
    await expect(failing).rejects.toThrow('x');
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});
