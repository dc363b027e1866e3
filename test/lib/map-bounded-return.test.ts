// mapBounded's return() and end, by exact values: what return() resolves to, the reason a running task's
// signal carries, a next() after return() done, a failure reported once, a return() before any
// next() opening nothing, and a return() after the end aborting nothing.
import { describe, expect, it } from 'vitest';
import { mapBounded } from '../../lib/map-bounded.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('mapBounded: return()', () => {
  it('resolves done and aborts the running task with a reason saying why', async () => {
    const signals: AbortSignal[] = [];
    const iter = mapBounded(
      [1],
      (_n, _i, signal) => {
        signals.push(signal);
        return new Promise(() => {});
      },
      { concurrency: 1 },
    );
    // Still pending at return(): it is settled by the abort (rejected with the same reason), not asserted here.
    const pending = iter.next().catch((reason: unknown) => reason);
    await tick();
    expect(signals).toHaveLength(1);
    expect(await iter.return!()).toEqual({ value: undefined, done: true });
    await pending;
    expect(await iter.next()).toEqual({ value: undefined, done: true });
    expect(signals[0]!.aborted).toBe(true);
    expect((signals[0]!.reason as Error).message).toBe('mapBounded: the consumer stopped iterating');
  });

  it('before any next() opens no iterator, and a next() after it is done', async () => {
    let opened = 0;
    const source = {
      [Symbol.iterator]() {
        opened++;
        return [1][Symbol.iterator]();
      },
    };
    const iter = mapBounded(source, (n) => n, { concurrency: 1 });
    expect(await iter.return!()).toEqual({ value: undefined, done: true });
    expect(await iter.next()).toEqual({ value: undefined, done: true });
    expect(opened).toBe(0);
  });

  it('after the end aborts nothing: the tasks signal stays as it was', async () => {
    const signals: AbortSignal[] = [];
    const iter = mapBounded(
      [1, 2],
      (n, _i, signal) => {
        signals.push(signal);
        return n;
      },
      { concurrency: 2 },
    );
    const values: number[] = [];
    for (let r = await iter.next(); !r.done; r = await iter.next()) {
      if (r.value.status === 'fulfilled') values.push(r.value.value);
    }
    expect(values.sort()).toEqual([1, 2]);
    await iter.return!();
    expect(signals.map((s) => s.aborted)).toEqual([false, false]);
  });
});

describe('mapBounded: a failure with stopOnError', () => {
  it('is thrown once, then the iterator is done', async () => {
    const failure = new Error('bad');
    const iter = mapBounded(
      [1],
      () => {
        throw failure;
      },
      { concurrency: 1, stopOnError: true },
    );
    const first = await iter.next();
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ index: 0, item: 1, status: 'rejected', reason: failure });
    await expect(iter.next()).rejects.toBe(failure);
    expect(await iter.next()).toEqual({ value: undefined, done: true });
  });
});
