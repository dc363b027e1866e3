// BoundedQueue after cancellations, by exact counts: close() with cancelled waiters still in its lists (each is
// settled once, so the waiting counts never go below zero), a cancellable pull cancelled twice or after a DONE,
// and a cancelled pull whose item passes to another pull while a producer is blocked (no place is overfilled).
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../lib/bounded-queue.js';
import { pullCancellable } from '../../lib/cancellable-pull.js';
import { QueueClosedError } from '../../lib/errors.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

function pull<T>(q: BoundedQueue<T>) {
  const delivered: IteratorResult<T, undefined>[] = [];
  const pending = q[pullCancellable]((result) => delivered.push(result));
  return { delivered, cancel: () => pending.cancel() };
}

describe('BoundedQueue: close() with cancelled waiters in its lists', () => {
  it('skips a cancelled producer: waitingPut stays 0 and only the live one is rejected', async () => {
    const q = new BoundedQueue<string>(1);
    q.tryPut('a');
    const controller = new AbortController();
    const cancelled = q.put('b', { signal: controller.signal });
    const live = q.put('c');
    controller.abort(new Error('b gone'));
    await expect(cancelled).rejects.toThrow('b gone');
    expect(q.waitingPut).toBe(1);
    expect(q.close()).toEqual([]);
    await expect(live).rejects.toThrow('Cannot put: the queue was closed');
    expect([q.waitingPut, q.waitingGet, q.size]).toEqual([0, 0, 1]);
  });

  it('skips a cancelled consumer: waitingGet stays 0 and only the live one ends', async () => {
    const q = new BoundedQueue<string>(1);
    const controller = new AbortController();
    const cancelled = q.get({ signal: controller.signal });
    const live = q.get();
    controller.abort(new Error('gone'));
    await expect(cancelled).rejects.toThrow('gone');
    expect(q.waitingGet).toBe(1);
    q.close();
    await expect(live).rejects.toBeInstanceOf(QueueClosedError);
    expect([q.waitingPut, q.waitingGet, q.size]).toEqual([0, 0, 0]);
  });
});

describe('BoundedQueue: a cancellable pull cancelled', () => {
  it('twice after it was handed an item gives the item back once', async () => {
    const q = new BoundedQueue<string>(2);
    q.tryPut('x');
    const p = pull(q);
    expect(q.size).toBe(1); // reserved for the pull
    expect(p.cancel()).toBe(true);
    p.cancel();
    expect(q.size).toBe(1);
    await tick();
    expect(p.delivered).toEqual([]);
    expect(q.close({ immediate: true })).toEqual(['x']); // once, not twice
    expect(q.size).toBe(0);
  });

  it('after it was handed the end of a closed queue leaves the queue empty', async () => {
    const q = new BoundedQueue<string>(1);
    q.close();
    const p = pull(q);
    expect(p.cancel()).toBe(true);
    expect(q.size).toBe(0);
    await tick();
    expect(p.delivered).toEqual([]);
    await expect(q.get()).rejects.toThrow('Cannot get: the queue is closed and drained');
    expect(q.size).toBe(0);
  });

  it('passes its item to the next pull and keeps a blocked producer out while the queue is full', async () => {
    const q = new BoundedQueue<string>(1);
    q.tryPut('x');
    const first = pull(q); // handed x: x is reserved, the queue is full
    const second = pull(q); // waits
    const blocked = q.put('y');
    expect([q.size, q.waitingGet, q.waitingPut]).toEqual([1, 1, 1]);
    first.cancel(); // x goes to the second pull, which reserves the only place again
    expect([q.size, q.peakSize, q.waitingGet, q.waitingPut]).toEqual([1, 1, 0, 1]);
    await tick();
    expect(first.delivered).toEqual([]);
    expect(second.delivered).toEqual([{ done: false, value: 'x' }]);
    await blocked; // y moved in once x was delivered
    expect([q.size, q.peakSize, q.waitingPut]).toEqual([1, 1, 0]);
    expect(await q.get()).toBe('y');
  });
});
