// BoundedQueue's smaller promises, each pinned by exact values: tryPut's three answers, the waiting counts
// and peak as they move, the exact errors, the async iterator's end, and the waiter lists' compaction.
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../lib/bounded-queue.js';
import { InvalidArgumentError, QueueClosedError } from '../../lib/errors.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('BoundedQueue: tryPut', () => {
  it('queues while there is room, hands straight to a waiting getter, refuses when full', async () => {
    const q = new BoundedQueue<string>(1);
    expect([q.maxSize, q.size, q.peakSize, q.closed]).toEqual([1, 0, 0, false]);
    expect(q.tryPut('a')).toBe(true);
    expect([q.size, q.peakSize]).toEqual([1, 1]);
    expect(q.tryPut('b')).toBe(false);
    expect(q.size).toBe(1);
    expect(await q.get()).toBe('a');
    const waiting = q.get();
    expect(q.waitingGet).toBe(1);
    expect(q.tryPut('c')).toBe(true);
    expect([q.size, q.waitingGet]).toEqual([0, 0]);
    expect(await waiting).toBe('c');
  });

  it('never overtakes a blocked producer, even with room', async () => {
    const q = new BoundedQueue<string>(1);
    q.tryPut('a');
    const blocked = q.put('b');
    expect(q.waitingPut).toBe(1);
    expect(await q.get()).toBe('a'); // b moves in as a leaves
    await blocked;
    expect([q.size, q.waitingPut]).toEqual([1, 0]);
    expect(q.tryPut('c')).toBe(false);
    const q2 = new BoundedQueue<string>(2);
    q2.tryPut('x');
    q2.tryPut('y');
    const late = q2.put('z');
    expect(q2.tryPut('w')).toBe(false);
    expect(await q2.get()).toBe('x');
    await late;
    expect([await q2.get(), await q2.get()]).toEqual(['y', 'z']);
  });

  it('throws QueueClosedError after close, with the exact message', () => {
    const q = new BoundedQueue<string>(1);
    q.close();
    expect(q.closed).toBe(true);
    expect(() => q.tryPut('a')).toThrow(new QueueClosedError('Cannot put: the queue is closed'));
  });
});

describe('BoundedQueue: errors and options', () => {
  it('put and get refuse a signal that is not an AbortSignal, and reject at once when already aborted', async () => {
    const q = new BoundedQueue<string>(1);
    const bad = { signal: {} as AbortSignal };
    await expect(q.put('a', bad)).rejects.toThrow(InvalidArgumentError);
    await expect(q.put('a', bad)).rejects.toThrow('Expected `signal` to be an AbortSignal, got {}');
    await expect(q.get(bad)).rejects.toThrow('Expected `signal` to be an AbortSignal, got {}');
    const reason = new Error('stop');
    await expect(q.put('a', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(q.get({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect([q.size, q.waitingPut, q.waitingGet]).toEqual([0, 0, 0]);
    // A live signal that never aborts changes nothing.
    await q.put('b', { signal: new AbortController().signal });
    expect(await q.get({ signal: new AbortController().signal })).toBe('b');
  });

  it('names the close errors exactly', async () => {
    const q = new BoundedQueue<string>(1);
    await q.put('a');
    const blocked = q.put('b');
    expect(() => q.close({ immediate: 'yes' as never })).toThrow(
      'Expected `immediate` to be a boolean, got "yes"',
    );
    expect(q.closed).toBe(false);
    expect(q.close()).toEqual([]);
    await expect(blocked).rejects.toThrow(new QueueClosedError('Cannot put: the queue was closed'));
    await expect(q.put('c')).rejects.toThrow(new QueueClosedError('Cannot put: the queue is closed'));
    expect(q.waitingPut).toBe(0);
    expect(await q.get()).toBe('a');
    await expect(q.get()).rejects.toThrow(
      new QueueClosedError('Cannot get: the queue is closed and drained'),
    );
  });

  it('close() ends waiting getters only once the queue is empty', async () => {
    const q = new BoundedQueue<string>(2);
    const g1 = q.get();
    const g2 = q.get();
    q.close();
    expect(q.waitingGet).toBe(0);
    await expect(g1).rejects.toBeInstanceOf(QueueClosedError);
    await expect(g2).rejects.toBeInstanceOf(QueueClosedError);
    const dropped = new BoundedQueue<string>(3);
    await dropped.put('a');
    await dropped.put('b');
    expect(dropped.close({ immediate: true })).toEqual(['a', 'b']);
    expect(dropped.size).toBe(0);
  });
});

describe('BoundedQueue: iteration and counts', () => {
  it('iterates every item in order and ends once closed and drained', async () => {
    const q = new BoundedQueue<number>(2);
    const seen: number[] = [];
    const done = (async () => {
      for await (const n of q) seen.push(n);
    })();
    for (let i = 0; i < 5; i++) await q.put(i);
    q.close();
    await done;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('the peak is the most items ever queued at once', async () => {
    const q = new BoundedQueue<number>(10);
    for (let i = 0; i < 4; i++) await q.put(i);
    await q.get();
    await q.get();
    await q.put(9);
    expect([q.size, q.peakSize]).toEqual([3, 4]);
  });

  it('thousands of cancelled producers leave no trace: the live producer still gets its place', async () => {
    const q = new BoundedQueue<number>(1);
    await q.put(0);
    const live = q.put(1);
    for (let i = 0; i < 3000; i++) {
      const controller = new AbortController();
      const cancelled = q.put(100 + i, { signal: controller.signal });
      controller.abort();
      await expect(cancelled).rejects.toBe(controller.signal.reason);
    }
    const after = q.put(2);
    expect(q.waitingPut).toBe(2);
    expect(await q.get()).toBe(0);
    await live;
    expect(await q.get()).toBe(1);
    await after;
    expect([await q.get(), q.size, q.waitingPut]).toEqual([2, 0, 0]);
  });

  it('a getter cancelled after others keeps the count exact and the order', async () => {
    const q = new BoundedQueue<number>(1);
    const first = q.get();
    const controller = new AbortController();
    const cancelled = q.get({ signal: controller.signal });
    const third = q.get();
    controller.abort();
    await expect(cancelled).rejects.toBe(controller.signal.reason);
    expect(q.waitingGet).toBe(2);
    await q.put(1);
    await q.put(2);
    expect([await first, await third]).toEqual([1, 2]);
    await tick();
    expect(q.waitingGet).toBe(0);
  });
});
