import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MapResult, mapBounded } from '../../lib/map-bounded.js';
import { Semaphore } from '../../lib/semaphore.js';
import { RUNS } from '../helpers/runs.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

function* counted(n: number, taken: { count: number }) {
  for (let i = 0; i < n; i++) {
    taken.count++;
    yield i;
  }
}

async function collect<T, R>(iterable: AsyncIterable<MapResult<T, R>>): Promise<MapResult<T, R>[]> {
  const out: MapResult<T, R>[] = [];
  for await (const r of iterable) out.push(r);
  return out;
}

describe('mapBounded', () => {
  it('yields each result as it completes, with its index and item', async () => {
    const results = await collect(
      mapBounded(
        [3, 1, 2],
        async (ticks) => {
          for (let i = 0; i < ticks * 5; i++) await tick();
          if (ticks === 2) throw new Error('two');
          return ticks * 10;
        },
        { concurrency: 3 },
      ),
    );
    expect(results).toEqual([
      { index: 1, item: 1, status: 'fulfilled', value: 10 },
      { index: 2, item: 2, status: 'rejected', reason: new Error('two') },
      { index: 0, item: 3, status: 'fulfilled', value: 30 },
    ]);
  });

  it('a slow consumer slows the pulling: results waiting to be read count against the limit', async () => {
    const taken = { count: 0 };
    let read = 0;
    let maxOutstanding = 0;
    for await (const _ of mapBounded(counted(100, taken), async (i) => i, { concurrency: 4 })) {
      for (let i = 0; i < 3; i++) await tick();
      read++;
      maxOutstanding = Math.max(maxOutstanding, taken.count - read);
    }
    expect(read).toBe(100);
    expect(maxOutstanding).toBeLessThanOrEqual(4);
  });

  it('breaking out of the loop stops pulling, aborts the running tasks and closes the source', async () => {
    const taken = { count: 0 };
    let closed = false;
    function* source() {
      try {
        yield* counted(1000, taken);
      } finally {
        closed = true;
      }
    }
    const signals: AbortSignal[] = [];
    let seen = 0;
    for await (const _ of mapBounded(
      source(),
      async (i, _index, signal) => {
        signals.push(signal);
        for (let k = 0; k < (i % 3) + 1; k++) await tick();
      },
      { concurrency: 5 },
    )) {
      if (++seen === 10) break;
    }
    const takenAtBreak = taken.count;
    for (let i = 0; i < 5; i++) await tick();
    expect(taken.count).toBe(takenAtBreak);
    expect(takenAtBreak).toBeLessThanOrEqual(15);
    expect(closed).toBe(true);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it('stopOnError throws the first failure once the running ones settle', async () => {
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const r of mapBounded(
          Array.from({ length: 50 }, (_, i) => i),
          async (i) => {
            await tick();
            if (i === 7) throw new Error('seven');
            return i;
          },
          { concurrency: 3, stopOnError: true },
        )) {
          seen.push(r.index);
        }
      })(),
    ).rejects.toThrow('seven');
    expect(seen.length).toBeLessThan(50);
  });

  it('an abort makes the loop throw the reason', async () => {
    const controller = new AbortController();
    await expect(
      (async () => {
        for await (const r of mapBounded(
          Array.from({ length: 100 }, (_, i) => i),
          async (i) => {
            await tick();
            return i;
          },
          { concurrency: 2, signal: controller.signal },
        )) {
          if (r.index === 5) controller.abort(new Error('stop now'));
        }
      })(),
    ).rejects.toThrow('stop now');
  });

  it('validates before any work starts, naming the option and the value', () => {
    expect(() => mapBounded([1], async () => {}, { concurrency: -2 })).toThrow(
      'Expected `concurrency` to be an integer >= 1 or Infinity, got -2',
    );
  });

  it('does nothing until iterated', async () => {
    const taken = { count: 0 };
    mapBounded(counted(10, taken), async () => {}, { concurrency: 2 });
    await tick();
    expect(taken.count).toBe(0);
  });
});

describe('mapBounded: properties', () => {
  it('yields every item exactly once, never more than the limit outstanding, releases every permit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.boolean(), { maxLength: 25 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined }),
        async (s, fails, limit, useSemaphore, breakAfter) => {
          const sem = useSemaphore ? new Semaphore(limit) : undefined;
          const taken = { count: 0 };
          let read = 0;
          const yielded = new Array(fails.length).fill(0);
          const iterate = async () => {
            for await (const r of mapBounded(
              counted(fails.length, taken),
              (i) =>
                s.schedule(Promise.resolve(i)).then((v) => {
                  if (fails[i]) throw new Error(`fail ${i}`);
                  return v;
                }),
              { concurrency: sem ?? limit },
            )) {
              yielded[r.index]++;
              expect(r.status).toBe(fails[r.index] ? 'rejected' : 'fulfilled');
              read++;
              expect(taken.count - read).toBeLessThanOrEqual(limit);
              if (breakAfter !== undefined && read === breakAfter) break;
            }
          };
          await s.waitFor(iterate());
          await s.waitAll();
          await tick();
          expect(yielded.every((n) => n <= 1)).toBe(true);
          if (breakAfter === undefined || breakAfter > fails.length) expect(read).toBe(fails.length);
          if (sem) expect([sem.inFlight, sem.waiting]).toEqual([0, 0]);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
