// Semaphore's bookkeeping around a queued waiter, by exact values: the abort listener it adds to a signal and
// removes once it settles (counted with events.getEventListeners), the timer only a timeoutMs arms, the
// release an acquire() resolves to, and the exact error a cancelled queue() rejects with.
import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { AbortError } from '../../lib/errors.js';
import { Semaphore } from '../../lib/semaphore.js';

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;
// Longer than the 1 ms a timer armed with an undefined delay takes to fire.
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('Semaphore: the abort listener of a queued waiter', () => {
  it('acquire() adds one listener while queued and removes it at the grant', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire({ signal: controller.signal });
    expect(listeners(controller.signal)).toBe(1);
    held();
    expect(listeners(controller.signal)).toBe(0);
    (await waiting)();
    expect([sem.inFlight, sem.waiting]).toEqual([0, 0]);
  });

  it('run() removes its listener at the grant, with or without a timeout', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const plain = sem.run(() => 'plain', { signal: controller.signal });
    const timed = sem.run(() => 'timed', { signal: controller.signal, timeoutMs: 60_000 });
    expect(listeners(controller.signal)).toBe(2);
    held();
    expect(await plain).toBe('plain');
    expect(await timed).toBe('timed');
    expect(listeners(controller.signal)).toBe(0);
    expect([sem.inFlight, sem.waiting]).toEqual([0, 0]);
  });

  it('a waiter that times out removes its listener from the signal it was given', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire({ signal: controller.signal, timeoutMs: 0 });
    expect(listeners(controller.signal)).toBe(1);
    await expect(waiting).rejects.toThrow('acquire timed out after 0 ms');
    expect(listeners(controller.signal)).toBe(0);
    held();
  });

  it('an aborted waiter leaves no listener behind, and other waiters on the signal keep theirs', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const shared = new AbortController();
    const own = new AbortController();
    const a = sem.acquire({ signal: shared.signal });
    const b = sem.acquire({ signal: own.signal });
    expect([listeners(shared.signal), listeners(own.signal)]).toEqual([1, 1]);
    own.abort(new Error('b gone'));
    await expect(b).rejects.toThrow('b gone');
    expect([listeners(shared.signal), listeners(own.signal)]).toEqual([1, 0]);
    held();
    (await a)();
    expect(listeners(shared.signal)).toBe(0);
  });
});

describe('Semaphore: the queued waiter without a signal or a timeout', () => {
  it('a signal alone arms no timer: the waiter waits past any timer and is granted', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const viaAcquire = sem.acquire({ signal: controller.signal });
    const viaRun = sem.run(() => 'ran', { signal: controller.signal });
    await pause();
    expect(sem.waiting).toBe(2);
    held();
    const release = await viaAcquire;
    expect(typeof release).toBe('function');
    release();
    expect(await viaRun).toBe('ran');
    expect([sem.inFlight, sem.waiting]).toEqual([0, 0]);
  });

  it('options with neither a signal nor a timeout queue the same way as none', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiting = sem.acquire({});
    const ran = sem.run(() => 'ran', {});
    await pause();
    expect(sem.waiting).toBe(2);
    held();
    const release = await waiting;
    expect(typeof release).toBe('function');
    release();
    expect(await ran).toBe('ran');
    expect([sem.inFlight, sem.waiting, sem.available]).toEqual([0, 0, 1]);
  });
});

describe('Semaphore: what a queued acquire resolves to', () => {
  it('acquire() granted after waiting resolves to a release that releases once', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const plain = sem.acquire();
    const signalled = sem.acquire({ signal: controller.signal });
    held();
    const first = await plain;
    expect(typeof first).toBe('function');
    first();
    first();
    const second = await signalled;
    expect(typeof second).toBe('function');
    expect(sem.inFlight).toBe(1);
    second();
    expect([sem.inFlight, sem.available]).toEqual([0, 1]);
  });

  it('an acquire granted, then aborted before it resumed, rejects and hands the permit on', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const granted = sem.acquire({ signal: controller.signal });
    held();
    expect(sem.inFlight).toBe(1); // the waiter holds it ...
    const reason = new Error('too late');
    controller.abort(reason);
    await expect(granted).rejects.toBe(reason);
    expect([sem.inFlight, sem.available, sem.waiting]).toEqual([0, 1, 0]); // ... and gave it back
  });
});

describe('Semaphore: queue().cancel()', () => {
  it('rejects the granted promise with an AbortError saying the queued acquire was cancelled', async () => {
    const sem = new Semaphore(1);
    const held = sem.tryAcquire();
    const queued = sem.queue();
    expect(queued.cancel()).toBe(true);
    const error = await queued.granted.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as Error).message).toBe('The queued acquire was cancelled');
    held!();
    expect([sem.inFlight, sem.waiting]).toEqual([0, 0]);
  });
});

describe('Semaphore: the timer of a queued waiter', () => {
  it('is cleared at the grant: no timer is left to hold the process open', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      const viaAcquire = sem.acquire({ timeoutMs: 60_000 });
      const viaRun = sem.run(() => 'ran', { timeoutMs: 60_000 });
      expect(vi.getTimerCount()).toBe(2);
      held();
      expect(vi.getTimerCount()).toBe(1); // the acquire's, cleared as it was granted
      (await viaAcquire)();
      expect(await viaRun).toBe('ran');
      expect([vi.getTimerCount(), sem.inFlight, sem.waiting]).toEqual([0, 0, 0]);
    } finally {
      vi.useRealTimers();
    }
  });
});
