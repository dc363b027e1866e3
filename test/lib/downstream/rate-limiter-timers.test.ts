// RateLimiter at its edges, on the limiter's own clock: a bucket holding exactly the least it grants on
// (1 - 1e-9 tokens), a waiter whose timer is overdue (a busy event loop: time moved on, the timer has not run
// yet), the one timer a key arms for its waiters and the one sweep timer (counted on the clock), the abort
// listener a waiter leaves on its signal (counted with events.getEventListeners), and a clock that steps back.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../lib/downstream/clock.js';
import { RateLimiter } from '../../../lib/downstream/rate-limiter.js';
import { FakeClock, flush } from './fake-clock.js';

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

/** Runs the clock timer by timer, letting promise callbacks run at each timer's own time. */
async function drain(clock: FakeClock, until: number): Promise<void> {
  await flush();
  for (let next = clock.nextAt(); next !== undefined && next <= until; next = clock.nextAt()) {
    clock.advance(next - clock.now());
    await flush();
  }
}

/** A FakeClock whose `block(ms)` moves time on without running the timers due meanwhile: they run late. */
function lateTimers() {
  const fake = new FakeClock();
  let lag = 0;
  const clock: Clock = {
    now: () => fake.now() + lag,
    setTimeout: (callback, ms) => fake.setTimeout(callback, ms),
    clearTimeout: (handle) => fake.clearTimeout(handle),
  };
  return { fake, clock, block: (ms: number) => (lag += ms) };
}

// 0.999999999 tokens a ms: one ms after the bucket is empty it holds exactly 1 - 1e-9, the least it grants on.
const ONE_TOKEN_A_MS = 999.999999;

describe('RateLimiter: a bucket holding exactly 1 - 1e-9 tokens', () => {
  it('take grants on it', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond: ONE_TOKEN_A_MS, burst: 1, clock });
    expect(limiter.take('k')).toBe(0);
    clock.advance(1);
    expect(limiter.tokens('k')).toBe(1 - 1e-9);
    expect(limiter.take('k')).toBe(0);
    expect(limiter.take('k')).toBeGreaterThan(0);
  });

  it('acquire grants on it at once, arming no timer', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond: ONE_TOKEN_A_MS, burst: 1, clock });
    expect(limiter.take('k')).toBe(0);
    clock.advance(1);
    let granted = false;
    const waiter = limiter.acquire('k').then(() => (granted = true));
    await flush();
    expect(granted).toBe(true);
    expect(clock.pending).toBe(1); // the sweep
    await waiter;
  });

  it("a queued waiter's timer grants on it, the very ms it comes", async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond: ONE_TOKEN_A_MS, burst: 1, clock });
    expect(limiter.take('k')).toBe(0);
    const granted: number[] = [];
    const waiter = limiter.acquire('k').then(() => granted.push(clock.now()));
    expect(clock.nextAt()).toBe(1);
    await drain(clock, 10);
    await waiter;
    expect(granted).toEqual([1]);
  });
});

describe('RateLimiter: a waiter whose timer is overdue (the event loop was busy)', () => {
  it('keeps the token for the waiter: take refuses and a later acquire queues behind it', async () => {
    const { fake, clock, block } = lateTimers();
    const limiter = new RateLimiter({ perSecond: 10, burst: 3, clock });
    for (let i = 0; i < 3; i++) expect(limiter.take('k')).toBe(0);
    const order: string[] = [];
    const first = limiter.acquire('k').then(() => order.push('first'));
    block(500); // 5 tokens' worth of time: the bucket is full again, its waiter's timer (due at 100) not run
    expect(limiter.tokens('k')).toBe(3);
    expect(limiter.take('k')).toBe(1);
    expect(limiter.tryAcquire('k')).toBe(false);
    const second = limiter.acquire('k').then(() => order.push('second'));
    await flush();
    expect(order).toEqual([]);
    // The timer runs at last: it serves both in order, and stops there with a token to spare.
    fake.advance(100);
    await Promise.all([first, second]);
    expect(order).toEqual(['first', 'second']);
    expect(limiter.tokens('k')).toBe(1);
    expect(limiter.take('k')).toBe(0);
  });
});

describe('RateLimiter: the timers it arms', () => {
  it('one timer per key however many wait, cleared when the last waiter leaves, armed again for the next', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond: 10, burst: 1, clock });
    expect(limiter.take('k')).toBe(0);
    expect(clock.pending).toBe(1); // the sweep
    const a = new AbortController();
    const b = new AbortController();
    const waiters = [a, b].map((c) =>
      limiter.acquire('k', { signal: c.signal }).catch((e: Error) => e.message),
    );
    expect(clock.pending).toBe(2);
    a.abort(new Error('a left'));
    expect(clock.pending).toBe(2);
    b.abort(new Error('b left'));
    expect(clock.pending).toBe(1);
    expect(await Promise.all(waiters)).toEqual(['a left', 'b left']);
    const granted: number[] = [];
    const next = limiter.acquire('k').then(() => granted.push(clock.now()));
    expect(clock.pending).toBe(2);
    await drain(clock, 500);
    await next;
    expect(granted).toEqual([100]);
  });

  it('lets go of a timer once it ran: a waiter queued after a grant arms its own', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond: 10, burst: 1, clock });
    expect(limiter.take('k')).toBe(0);
    const granted: number[] = [];
    const first = limiter.acquire('k').then(() => granted.push(clock.now()));
    await drain(clock, 100);
    await first;
    const second = limiter.acquire('k').then(() => granted.push(clock.now()));
    await drain(clock, 500);
    await second;
    expect(granted).toEqual([100, 200]);
  });

  it('the sweep keeps a bucket not yet full, and deletes it on a later round once it is', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond: 1, burst: 2, clock, sweepMs: 500 });
    expect(limiter.take('k')).toBe(0);
    clock.advance(500);
    expect(limiter.activeKeys).toBe(1);
    expect(limiter.tokens('k')).toBe(1.5);
    clock.advance(500);
    expect(limiter.activeKeys).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('one sweep timer for all keys', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond: 10, burst: 1, clock });
    for (const key of ['a', 'b', 'c']) expect(limiter.take(key)).toBe(0);
    expect(limiter.activeKeys).toBe(3);
    expect(clock.pending).toBe(1);
  });
});

describe("RateLimiter: a waiter's abort listener", () => {
  it('is removed when the waiter is granted', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond: 10, burst: 1, clock });
    expect(limiter.take('k')).toBe(0);
    const controller = new AbortController();
    const waiter = limiter.acquire('k', { signal: controller.signal });
    expect(listeners(controller.signal)).toBe(1);
    await drain(clock, 100);
    await waiter;
    expect(listeners(controller.signal)).toBe(0);
  });

  it('is removed when the waiter is aborted', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond: 10, burst: 1, clock });
    expect(limiter.take('k')).toBe(0);
    const controller = new AbortController();
    const waiter = limiter.acquire('k', { signal: controller.signal });
    controller.abort(new Error('gone'));
    await expect(waiter).rejects.toThrow('gone');
    expect(listeners(controller.signal)).toBe(0);
  });
});

describe('RateLimiter: a clock that steps back', () => {
  it('takes no token away: the bucket refills only once time passes its last reading', () => {
    let now = 1000;
    const clock: Clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => undefined };
    const limiter = new RateLimiter({ perSecond: 1, burst: 2, clock });
    expect(limiter.take('k')).toBe(0);
    now = 400;
    expect(limiter.tokens('k')).toBe(1);
    expect(limiter.take('k')).toBe(0);
    now = 1500;
    expect(limiter.tokens('k')).toBeCloseTo(0.5, 9);
  });
});
