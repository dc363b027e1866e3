// Semaphore's smaller promises, each by exact values: tryAcquire's answers, the counters under a shrunken
// limit, timeouts and signals on the queued path of run(), and a queue that is mostly dead waiters.
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../../lib/errors.js';
import { Semaphore } from '../../lib/semaphore.js';

describe('Semaphore: tryAcquire and the counters', () => {
  it('takes a free permit, refuses when full or when someone waits, and counts the peak', async () => {
    const sem = new Semaphore(2);
    const a = sem.tryAcquire();
    expect(typeof a).toBe('function');
    const b = sem.tryAcquire();
    expect([sem.inFlight, sem.available, sem.peakInFlight]).toEqual([2, 0, 2]);
    expect(sem.tryAcquire()).toBeUndefined();
    const waiter = sem.acquire();
    a!();
    // The permit went to the waiter: a newcomer may not take it.
    expect([sem.inFlight, sem.waiting, sem.tryAcquire()]).toEqual([2, 0, undefined]);
    (await waiter)();
    b!();
    expect([sem.inFlight, sem.available, sem.peakInFlight]).toEqual([0, 2, 2]);
    const c = sem.tryAcquire();
    expect([sem.inFlight, sem.peakInFlight]).toEqual([1, 2]);
    c!();
  });

  it('available is never negative when the limit shrinks below the permits held', async () => {
    const sem = new Semaphore(3);
    const held = [await sem.acquire(), await sem.acquire(), await sem.acquire()];
    sem.setPermits(1);
    expect([sem.permits, sem.inFlight, sem.available]).toEqual([1, 3, 0]);
    for (const release of held) release();
    expect([sem.inFlight, sem.available]).toEqual([0, 1]);
  });

  it('Infinity admits everyone at once', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const waiters = [sem.acquire(), sem.acquire(), sem.acquire()];
    sem.setPermits(Number.POSITIVE_INFINITY);
    expect([sem.inFlight, sem.waiting, sem.available]).toEqual([4, 0, Number.POSITIVE_INFINITY]);
    await Promise.all(waiters);
  });
});

describe('Semaphore: timeoutMs', () => {
  it('refuses anything but a finite number >= 0, a string of digits included, in acquire and run', async () => {
    const sem = new Semaphore(1);
    const cases: [unknown, string][] = [
      [Number.POSITIVE_INFINITY, 'Infinity'],
      [Number.NaN, 'NaN'],
      ['5', '"5"'],
      [-0.5, '-0.5'],
    ];
    for (const [timeoutMs, shown] of cases) {
      const message = `Expected \`timeoutMs\` to be a finite number >= 0, got ${shown}`;
      await expect(sem.acquire({ timeoutMs: timeoutMs as number })).rejects.toThrow(message);
      await expect(sem.run(() => 'no', { timeoutMs: timeoutMs as number })).rejects.toThrow(message);
    }
    expect([sem.inFlight, sem.waiting]).toEqual([0, 0]);
  });
});

describe('Semaphore: run() on the queued path', () => {
  it('times out with a TimeoutError, never calls fn, and leaves no trace', async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    let called = 0;
    const run = sem.run(() => called++, { timeoutMs: 0 });
    expect(sem.waiting).toBe(1);
    await expect(run).rejects.toBeInstanceOf(TimeoutError);
    expect([called, sem.waiting, sem.inFlight]).toEqual([0, 0, 1]);
    release();
    expect(sem.inFlight).toBe(0);
  });

  it('a queued run granted in time runs fn once, returns its value and releases, timer and listener gone', async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    const controller = new AbortController();
    const run = sem.run(() => 'done', { timeoutMs: 60_000, signal: controller.signal });
    release();
    expect(await run).toBe('done');
    // Aborting later changes nothing: the listener was removed at the grant.
    controller.abort(new Error('late'));
    expect([sem.inFlight, sem.waiting]).toEqual([0, 0]);
    expect(await sem.run(() => 'again', { timeoutMs: 0 })).toBe('again');
  });

  it('an acquire aborted while queued rejects with the reason and the permit goes to the next', async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    const controller = new AbortController();
    const aborted = sem.acquire({ signal: controller.signal });
    const next = sem.acquire();
    controller.abort(new Error('gone'));
    await expect(aborted).rejects.toThrow('gone');
    expect(sem.waiting).toBe(1);
    release();
    (await next)();
    expect([sem.inFlight, sem.waiting]).toEqual([0, 0]);
  });
});

describe('Semaphore: a queue mostly of dead waiters', () => {
  it('still serves the live waiters before and after the dead ones, in order, with exact counts', async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    const order: string[] = [];
    const first = sem.acquire().then((r) => {
      order.push('first');
      return r;
    });
    const dead: Promise<unknown>[] = [];
    for (let i = 0; i < 2500; i++) {
      const q = sem.queue();
      q.granted.catch(() => undefined);
      expect(q.cancel()).toBe(true);
      dead.push(q.granted.catch((e: Error) => e.name));
    }
    const last = sem.acquire().then((r) => {
      order.push('last');
      return r;
    });
    expect(sem.waiting).toBe(2);
    expect(new Set(await Promise.all(dead))).toEqual(new Set(['AbortError']));
    release();
    (await first)();
    (await last)();
    expect(order).toEqual(['first', 'last']);
    expect([sem.inFlight, sem.waiting, sem.available]).toEqual([0, 0, 1]);
  });
});
