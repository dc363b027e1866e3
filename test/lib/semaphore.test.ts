import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbortError, InvalidArgumentError, TimeoutError } from '../../lib/errors.js';
import { Semaphore } from '../../lib/semaphore.js';
import { collectUnhandled, RUNS } from '../helpers/runs.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Semaphore: construction', () => {
  it.each([
    [0, '0'],
    [-1, '-1'],
    [Number.NaN, 'NaN'],
    [1.5, '1.5'],
    ['2', '"2"'],
    [undefined, 'undefined'],
    [null, 'null'],
  ])('rejects permits %s with a RangeError naming the value', (value, shown) => {
    const create = () => new Semaphore(value as number);
    expect(create).toThrow(RangeError);
    expect(create).toThrow(InvalidArgumentError);
    expect(create).toThrow(`Expected \`permits\` to be an integer >= 1 or Infinity, got ${shown}`);
  });

  it('starts with every permit available', () => {
    const sem = new Semaphore(3);
    expect([sem.permits, sem.available, sem.inFlight, sem.waiting, sem.peakInFlight]).toEqual([
      3, 3, 0, 0, 0,
    ]);
  });

  it('setPermits validates like the constructor', () => {
    const sem = new Semaphore(2);
    expect(() => sem.setPermits(0)).toThrow('Expected `permits` to be an integer >= 1 or Infinity, got 0');
    expect(sem.permits).toBe(2);
  });
});

describe('Semaphore: acquire and release', () => {
  it('grants up to the limit, then queues', async () => {
    const sem = new Semaphore(2);
    const r1 = await sem.acquire();
    const r2 = await sem.acquire();
    let third = false;
    const p3 = sem.acquire().then((r) => {
      third = true;
      return r;
    });
    await tick();
    expect(third).toBe(false);
    expect([sem.inFlight, sem.available, sem.waiting]).toEqual([2, 0, 1]);
    r1();
    const r3 = await p3;
    expect(third).toBe(true);
    r2();
    r3();
    expect([sem.inFlight, sem.available, sem.waiting, sem.peakInFlight]).toEqual([0, 2, 0, 2]);
  });

  it('a release called twice releases once, so an extra release never raises the limit', async () => {
    const sem = new Semaphore(1);
    const r1 = await sem.acquire();
    r1();
    r1();
    expect(sem.available).toBe(1);
    expect(sem.inFlight).toBe(0);
    const r2 = sem.tryAcquire();
    expect(r2).toBeTypeOf('function');
    expect(sem.tryAcquire()).toBeUndefined();
    r1();
    expect(sem.tryAcquire()).toBeUndefined();
    expect(sem.inFlight).toBe(1);
  });

  it('serves waiters first in, first out', async () => {
    const sem = new Semaphore(1);
    const first = await sem.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3, 4].map((n) =>
      sem.acquire().then((release) => {
        order.push(n);
        release();
      }),
    );
    first();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('never lets a newcomer overtake a waiter (no barging)', async () => {
    const sem = new Semaphore(1);
    const first = await sem.acquire();
    const waiter = sem.acquire();
    first();
    // The permit went to the waiter in the same tick: a newcomer finds none.
    expect(sem.tryAcquire()).toBeUndefined();
    let newcomerRan = false;
    const newcomer = sem.run(() => {
      newcomerRan = true;
    });
    expect(newcomerRan).toBe(false);
    (await waiter)();
    await newcomer;
    expect(newcomerRan).toBe(true);
  });

  it('takes the running count before the first await, so a burst of callers cannot exceed the limit', () => {
    const sem = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const calls = Array.from({ length: 10 }, () =>
      sem.run(async () => {
        peak = Math.max(peak, ++running);
        await tick();
        running--;
      }),
    );
    expect(sem.inFlight).toBe(2);
    expect(sem.waiting).toBe(8);
    return Promise.all(calls).then(() => {
      expect(peak).toBe(2);
      expect(sem.peakInFlight).toBe(2);
      expect(sem.available).toBe(2);
    });
  });
});

describe('Semaphore: abort and timeout', () => {
  it('an aborted waiter leaves the queue, rejects with the reason and never holds a permit', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const aborted = sem.acquire({ signal: controller.signal });
    const next = sem.acquire();
    const reason = new Error('stop waiting');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(sem.waiting).toBe(1);
    held();
    (await next)();
    expect([sem.inFlight, sem.available, sem.waiting]).toEqual([0, 1, 0]);
  });

  it('rejects at once with the reason when the signal is already aborted', async () => {
    const sem = new Semaphore(1);
    const reason = new Error('already');
    await expect(sem.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(sem.run(() => 1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect([sem.inFlight, sem.available, sem.waiting]).toEqual([0, 1, 0]);
  });

  it('a waiter aborted in the same tick it is granted passes the permit on instead of losing it', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const granted = sem.acquire({ signal: controller.signal });
    const third = sem.acquire();
    held(); // grants the permit to the waiter ...
    controller.abort(new Error('too late')); // ... which is aborted before it resumes
    await expect(granted).rejects.toThrow('too late');
    const release = await third; // the permit passed on
    release();
    expect([sem.inFlight, sem.available, sem.waiting]).toEqual([0, 1, 0]);
  });

  it('run() with a signal aborted right after the grant never calls fn and releases', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    let called = false;
    const run = sem.run(
      () => {
        called = true;
      },
      { signal: controller.signal },
    );
    held();
    controller.abort(new Error('late abort'));
    await expect(run).rejects.toThrow('late abort');
    expect(called).toBe(false);
    expect(sem.available).toBe(1);
  });

  it('gives up after timeoutMs with a TimeoutError and leaves no trace', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiting = sem.acquire({ timeoutMs: 5 });
    await expect(waiting).rejects.toBeInstanceOf(TimeoutError);
    await expect(waiting).rejects.toThrow('acquire timed out after 5 ms');
    expect(sem.waiting).toBe(0);
    held();
    expect(sem.available).toBe(1);
  });

  it('rejects bad options naming the option and the value', async () => {
    const sem = new Semaphore(1);
    await expect(sem.acquire({ timeoutMs: -1 })).rejects.toThrow(
      'Expected `timeoutMs` to be a finite number >= 0, got -1',
    );
    await expect(sem.acquire({ signal: 'x' as unknown as AbortSignal })).rejects.toThrow(
      'Expected `signal` to be an AbortSignal, got "x"',
    );
    await expect(sem.run('nope' as unknown as () => void)).rejects.toThrow(
      'Expected `fn` to be a function, got "nope"',
    );
  });
});

describe('Semaphore: queue (cancellable without a signal)', () => {
  it('grants at once when free, otherwise in FIFO order with acquire()', async () => {
    const sem = new Semaphore(1);
    const first = sem.queue();
    const release1 = await first.granted;
    const order: string[] = [];
    const viaAcquire = sem.acquire().then((release) => {
      order.push('acquire');
      return release;
    });
    const viaQueue = sem.queue().granted.then((release) => {
      order.push('queue');
      return release;
    });
    expect(sem.waiting).toBe(2);
    release1();
    (await viaAcquire)();
    (await viaQueue)();
    expect(order).toEqual(['acquire', 'queue']);
    expect([sem.inFlight, sem.waiting, sem.available]).toEqual([0, 0, 1]);
  });

  it('cancel() before the grant leaves the queue and rejects with an AbortError; after it, changes nothing', async () => {
    const sem = new Semaphore(1);
    const held = sem.queue();
    expect(held.cancel()).toBe(false); // granted at once: nothing to cancel
    const waiting = sem.queue();
    const next = sem.queue();
    expect(sem.waiting).toBe(2);
    expect(waiting.cancel()).toBe(true);
    expect(waiting.cancel()).toBe(false);
    await expect(waiting.granted).rejects.toBeInstanceOf(AbortError);
    expect(sem.waiting).toBe(1);
    (await held.granted)();
    const release = await next.granted; // the cancelled waiter was skipped: the permit went to the next one
    expect(next.cancel()).toBe(false);
    expect(sem.inFlight).toBe(1);
    release();
    expect([sem.inFlight, sem.waiting, sem.available]).toEqual([0, 0, 1]);
  });
});

describe('Semaphore: run', () => {
  it('returns the value and releases', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => 42)).resolves.toBe(42);
    await expect(sem.run(() => 'sync')).resolves.toBe('sync');
    expect(sem.available).toBe(1);
  });

  it('releases when fn rejects or throws synchronously, and a synchronous throw becomes a rejection', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => Promise.reject(new Error('async boom')))).rejects.toThrow('async boom');
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = sem.run(() => {
        throw new Error('sync boom');
      });
    }).not.toThrow();
    await expect(result).rejects.toThrow('sync boom');
    // Also on the queued path.
    const held = await sem.acquire();
    const queued = sem.run(() => {
      throw new Error('queued boom');
    });
    held();
    await expect(queued).rejects.toThrow('queued boom');
    expect([sem.inFlight, sem.available]).toEqual([0, 1]);
  });

  it('keeps the caller’s AsyncLocalStorage context on the fast and the queued path', async () => {
    const als = new AsyncLocalStorage<string>();
    const sem = new Semaphore(1);
    const held = await als.run('holder', () => sem.acquire());
    const queued = als.run('queued caller', () => sem.run(() => als.getStore()));
    await als.run('releaser', async () => held());
    await expect(queued).resolves.toBe('queued caller');
    await expect(als.run('fast caller', () => sem.run(() => als.getStore()))).resolves.toBe('fast caller');
  });

  it('lets no rejection escape unhandled', async () => {
    const unhandled = await collectUnhandled(async () => {
      const sem = new Semaphore(2);
      const controller = new AbortController();
      const runs = Array.from({ length: 20 }, (_, i) =>
        sem
          .run(
            async () => {
              await tick();
              if (i % 3 === 0) throw new Error(`fail ${i}`);
            },
            i % 4 === 0 ? { signal: controller.signal } : undefined,
          )
          .catch(() => {}),
      );
      controller.abort();
      await Promise.all(runs);
    });
    expect(unhandled).toEqual([]);
  });
});

describe('Semaphore: setPermits', () => {
  it('growing wakes waiters at once', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const waiters = [sem.acquire(), sem.acquire()];
    sem.setPermits(3);
    expect(sem.waiting).toBe(0);
    expect(sem.inFlight).toBe(3);
    await Promise.all(waiters);
  });

  it('shrinking takes effect as permits come back', async () => {
    const sem = new Semaphore(3);
    const held = [await sem.acquire(), await sem.acquire(), await sem.acquire()];
    sem.setPermits(1);
    const waiter = sem.acquire();
    held[0]();
    held[1]();
    expect(sem.waiting).toBe(1);
    expect(sem.available).toBe(0);
    held[2]();
    expect(sem.waiting).toBe(0);
    (await waiter)();
    expect(sem.available).toBe(1);
  });
});

describe('Semaphore: properties', () => {
  const taskArb = fc.record({
    fail: fc.boolean(),
    syncThrow: fc.boolean(),
    abort: fc.boolean(),
    withSignal: fc.boolean(),
  });

  it('never admits above the limit, leaks no permit, settles each task once, admits in FIFO order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 6 }),
        fc.array(taskArb, { minLength: 1, maxLength: 25 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 3 }),
        async (s, permits, tasks, resizes) => {
          const sem = new Semaphore(permits);
          let running = 0;
          const started: number[] = [];
          const overLimit: string[] = [];
          const settled = new Array(tasks.length).fill(0);
          const runs = tasks.map((task, i) => {
            const controller = new AbortController();
            if (task.abort)
              s.schedule(Promise.resolve()).then(() => controller.abort(new Error(`abort ${i}`)));
            const options = task.withSignal ? { signal: controller.signal } : undefined;
            return sem
              .run(() => {
                running++;
                // Recorded, not asserted here: a throw inside the task would only fail the task.
                if (running > sem.permits) overLimit.push(`${running} running, limit ${sem.permits}`);
                started.push(i);
                if (task.syncThrow) {
                  running--;
                  throw new Error(`sync ${i}`);
                }
                return s.schedule(Promise.resolve()).then(() => {
                  running--;
                  if (task.fail) throw new Error(`fail ${i}`);
                });
              }, options)
              .then(
                () => settled[i]++,
                () => settled[i]++,
              );
          });
          for (const n of resizes) s.schedule(Promise.resolve()).then(() => sem.setPermits(n));
          await s.waitFor(Promise.all(runs));
          expect(overLimit).toEqual([]);
          expect(settled.every((n) => n === 1)).toBe(true);
          expect([sem.inFlight, sem.waiting, sem.available]).toEqual([0, 0, sem.permits]);
          expect(started).toEqual([...started].sort((a, b) => a - b));
          expect(sem.peakInFlight).toBeLessThanOrEqual(Math.max(permits, ...resizes));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('queue() callers cancelled at random times: never above the limit, no leak, each settles once, FIFO', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ cancel: fc.boolean(), viaQueue: fc.boolean() }), {
          minLength: 1,
          maxLength: 25,
        }),
        fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
        async (s, permits, callers, resizes) => {
          const sem = new Semaphore(permits);
          let running = 0;
          const admitted: number[] = [];
          const outcomes = new Array(callers.length).fill(0);
          const work = (i: number) => async (release: () => void) => {
            running++;
            expect(running).toBeLessThanOrEqual(sem.permits);
            admitted.push(i);
            await s.schedule(Promise.resolve());
            running--;
            release();
          };
          const runs = callers.map((caller, i) => {
            if (!caller.viaQueue)
              return sem
                .acquire()
                .then(work(i))
                .then(() => outcomes[i]++);
            const pending = sem.queue();
            let cancelled = false;
            if (caller.cancel)
              s.schedule(Promise.resolve()).then(() => {
                cancelled = pending.cancel();
              });
            return pending.granted.then(work(i)).then(
              () => {
                expect(cancelled).toBe(false);
                outcomes[i]++;
              },
              (error) => {
                expect(error).toBeInstanceOf(AbortError);
                expect(cancelled).toBe(true);
                outcomes[i]++;
              },
            );
          });
          for (const n of resizes) s.schedule(Promise.resolve()).then(() => sem.setPermits(n));
          await s.waitFor(Promise.all(runs));
          expect(outcomes.every((n) => n === 1)).toBe(true);
          expect([sem.inFlight, sem.waiting, sem.available]).toEqual([0, 0, sem.permits]);
          expect(admitted).toEqual([...admitted].sort((a, b) => a - b));
          expect(sem.peakInFlight).toBeLessThanOrEqual(Math.max(permits, ...resizes));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
