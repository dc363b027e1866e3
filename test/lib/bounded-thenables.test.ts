import { describe, expect, it } from 'vitest';
import { mapBounded } from '../../lib/map-bounded.js';
import { runBounded } from '../../lib/run-bounded.js';
import { Semaphore } from '../../lib/semaphore.js';
import { collectUnhandled } from '../helpers/runs.js';

// Issue 12 item 16: task results and pulls are taken as `await` takes them.

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Settles `promise` or reports 'pending' after `ticks` event-loop turns (a count, not a clock). */
async function within<T>(promise: Promise<T>, ticks = 50) {
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | 'pending' = 'pending';
  promise.then(
    (value) => {
      outcome = { ok: true, value };
    },
    (error) => {
      outcome = { ok: false, error };
    },
  );
  for (let i = 0; i < ticks && outcome === 'pending'; i++) await tick();
  return outcome;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

type Then<T> = (resolve: (value: T) => void, reject: (reason: unknown) => void) => void;

/** A hand-made (here hostile) thenable; `then` defined by name keeps the linter's noThenProperty rule on. */
function thenable<T>(then: Then<T>): PromiseLike<T> {
  return Object.defineProperty({}, 'then', { value: then }) as PromiseLike<T>;
}

describe('task results taken as await takes them', () => {
  it('a then that throws is that task’s rejection (unless it called back first); the permit comes back', async () => {
    const sem = new Semaphore(2);
    const unhandled = await collectUnhandled(async () => {
      const run = runBounded(
        range(4),
        (i) => {
          if (i === 2) {
            return thenable<number>(() => {
              throw new Error('then broke');
            });
          }
          if (i === 3) {
            return thenable<number>((resolve) => {
              resolve(i);
              throw new Error('ignored: the first callback counts, as with await');
            });
          }
          return Promise.resolve(i);
        },
        { concurrency: sem },
      );
      expect(await within(run)).toEqual({
        ok: true,
        value: [
          { status: 'fulfilled', value: 0 },
          { status: 'fulfilled', value: 1 },
          { status: 'rejected', reason: new Error('then broke') },
          { status: 'fulfilled', value: 3 },
        ],
      });
    });
    expect([sem.inFlight, unhandled]).toEqual([0, []]);
  });

  it('a thenable calling back twice counts once: never above the limit, each result in its place', async () => {
    const sem = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const unhandled = await collectUnhandled(async () => {
      const run = runBounded(
        range(20),
        (i) => {
          peak = Math.max(peak, ++running);
          return thenable<number>((resolve, reject) => {
            setImmediate(() => {
              running--;
              if (i % 2) reject(new Error(`fail ${i}`));
              else resolve(i);
              resolve(i + 100);
              reject(new Error('second'));
            });
          });
        },
        { concurrency: sem },
      );
      const outcome = await within(run, 200);
      expect(outcome).toEqual({
        ok: true,
        value: range(20).map((i) =>
          i % 2 ? { status: 'rejected', reason: new Error(`fail ${i}`) } : { status: 'fulfilled', value: i },
        ),
      });
    });
    expect([peak, sem.peakInFlight, sem.inFlight, unhandled]).toEqual([2, 2, 0, []]);
  });

  it('100,000 thenables calling back synchronously: no stack overflow', async () => {
    const n = 100_000;
    const results = await runBounded(range(n), (i) => thenable<number>((resolve) => resolve(i)), {
      concurrency: 4,
    });
    expect(results).toHaveLength(n);
    expect(results.every((r, i) => r.status === 'fulfilled' && r.value === i)).toBe(true);
  });

  it('mapBounded: a throwing then is a rejected result, a double callback yields once', async () => {
    const seen: unknown[] = [];
    for await (const r of mapBounded(
      range(3),
      (i) =>
        thenable<number>((resolve) => {
          if (i === 1) throw new Error('then broke');
          resolve(i);
          resolve(-1);
        }),
      { concurrency: 2 },
    )) {
      seen.push(r.status === 'fulfilled' ? r.value : (r.reason as Error).message);
    }
    expect(seen.sort()).toEqual([0, 2, 'then broke'].sort());
  });
});

describe('pulls taken as for-await takes them', () => {
  function plainIterator<T>(items: T[], last?: unknown): AsyncIterable<T> {
    return {
      [Symbol.asyncIterator]() {
        let i = 0;
        return {
          next: () => {
            if (i < items.length) return { value: items[i++], done: false };
            return (last ?? { value: undefined, done: true }) as IteratorResult<T>;
          },
        } as unknown as AsyncIterator<T>;
      },
    };
  }

  it('accepts an async iterator whose next() returns a plain { value, done }', async () => {
    const results = await runBounded(plainIterator(['a', 'b', 'c']), (s) => s.toUpperCase(), {
      concurrency: 2,
    });
    expect(results.map((r) => r.status === 'fulfilled' && r.value)).toEqual(['A', 'B', 'C']);
  });

  it('a next() result that is not an object fails the run with the TypeError for-await gives', async () => {
    const sem = new Semaphore(2);
    await expect(runBounded(plainIterator(['a'], 42), (s) => s, { concurrency: sem })).rejects.toThrow(
      new TypeError('Iterator result 42 is not an object'),
    );
    const sync = { [Symbol.iterator]: () => ({ next: () => undefined }) } as unknown as Iterable<string>;
    await expect(runBounded(sync, (s) => s, { concurrency: sem })).rejects.toThrow(
      new TypeError('Iterator result undefined is not an object'),
    );
    expect(sem.inFlight).toBe(0);
  });

  it('a next() returning a thenable whose then throws fails the run with that error', async () => {
    const source = {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          thenable(() => {
            throw new Error('pull broke');
          }),
      }),
    } as unknown as AsyncIterable<number>;
    const unhandled = await collectUnhandled(async () => {
      expect(await within(runBounded(source, (i) => i, { concurrency: 2 }))).toEqual({
        ok: false,
        error: new Error('pull broke'),
      });
    });
    expect(unhandled).toEqual([]);
  });
});
