import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../lib/bounded-queue.js';
import { QueueClosedError } from '../../lib/errors.js';
import { RUNS } from '../helpers/runs.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('BoundedQueue', () => {
  it('rejects a bad maxSize naming the value', () => {
    expect(() => new BoundedQueue(0)).toThrow('Expected `maxSize` to be an integer >= 1 or Infinity, got 0');
    expect(() => new BoundedQueue(2.5)).toThrow(RangeError);
  });

  it('put waits while full and get waits while empty, both FIFO', async () => {
    const q = new BoundedQueue<string>(2);
    await q.put('a');
    await q.put('b');
    const order: string[] = [];
    const blocked = [q.put('c').then(() => order.push('put c')), q.put('d').then(() => order.push('put d'))];
    await tick();
    expect([q.size, q.waitingPut, order]).toEqual([2, 2, []]);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    await Promise.all(blocked);
    expect(order).toEqual(['put c', 'put d']);
    expect([await q.get(), await q.get()]).toEqual(['c', 'd']);
    const getters = [q.get(), q.get()];
    await tick();
    expect(q.waitingGet).toBe(2);
    await q.put('e');
    await q.put('f');
    expect(await Promise.all(getters)).toEqual(['e', 'f']);
    expect(q.peakSize).toBe(2);
  });

  it('a cancelled getter passes the wake-up on: the next getter receives the item', async () => {
    const q = new BoundedQueue<number>(1);
    const controller = new AbortController();
    const cancelled = q.get({ signal: controller.signal });
    const next = q.get();
    controller.abort(new Error('gone'));
    await expect(cancelled).rejects.toThrow('gone');
    await q.put(1);
    expect(await next).toBe(1);
    expect(q.waitingGet).toBe(0);
  });

  it('a cancelled putter passes its place on and its item is not added', async () => {
    const q = new BoundedQueue<number>(1);
    await q.put(1);
    const controller = new AbortController();
    const cancelled = q.put(2, { signal: controller.signal });
    const next = q.put(3);
    controller.abort(new Error('never mind'));
    await expect(cancelled).rejects.toThrow('never mind');
    expect(await q.get()).toBe(1);
    await next;
    expect(await q.get()).toBe(3);
    expect(q.size).toBe(0);
  });

  it('thousands of cancelled getters leave no trace: the next item still reaches the live getter', async () => {
    const q = new BoundedQueue<number>(1);
    const live = q.get();
    for (let i = 0; i < 5000; i++) {
      const controller = new AbortController();
      const cancelled = q.get({ signal: controller.signal });
      controller.abort();
      await expect(cancelled).rejects.toBe(controller.signal.reason);
    }
    expect(q.waitingGet).toBe(1);
    await q.put(42);
    expect(await live).toBe(42);
    expect(q.waitingGet).toBe(0);
  });

  it('an item handed to a getter is delivered even if its signal aborts in the same tick', async () => {
    const q = new BoundedQueue<number>(1);
    const controller = new AbortController();
    const getter = q.get({ signal: controller.signal });
    await q.put(7);
    controller.abort();
    expect(await getter).toBe(7);
  });

  it('close() lets consumers drain, then ends them; put after close rejects with QueueClosedError', async () => {
    const q = new BoundedQueue<number>(3);
    await q.put(1);
    await q.put(2);
    q.close();
    await expect(q.put(3)).rejects.toBeInstanceOf(QueueClosedError);
    await expect(q.put(3)).rejects.toThrow('Cannot put: the queue is closed');
    const drained: number[] = [];
    for await (const item of q) drained.push(item);
    expect(drained).toEqual([1, 2]);
    await expect(q.get()).rejects.toThrow('Cannot get: the queue is closed and drained');
  });

  it('close() rejects blocked producers and wakes waiting consumers', async () => {
    const q = new BoundedQueue<number>(1);
    const consumer = (async () => {
      const got: number[] = [];
      for await (const item of q) got.push(item);
      return got;
    })();
    await q.put(1);
    await q.put(2);
    await q.put(3);
    const blocked = q.put(4);
    q.close();
    await expect(blocked).rejects.toBeInstanceOf(QueueClosedError);
    await expect(blocked).rejects.toThrow('Cannot put: the queue was closed');
    expect(await consumer).toEqual([1, 2, 3]);
  });

  it('close({ immediate: true }) drops the queued items, returns them and ends consumers at once', async () => {
    const q = new BoundedQueue<number>(5);
    for (const n of [1, 2, 3]) await q.put(n);
    const dropped = q.close({ immediate: true });
    expect(dropped).toEqual([1, 2, 3]);
    expect(q.size).toBe(0);
    const got: number[] = [];
    for await (const item of q) got.push(item);
    expect(got).toEqual([]);
  });
});

describe('BoundedQueue: properties', () => {
  it('never holds more than maxSize, delivers every accepted item exactly once in FIFO order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 5 }),
        fc.boolean(),
        async (s, maxSize, count, consumers, cancelAt, immediate) => {
          const q = new BoundedQueue<number>(maxSize);
          const accepted: number[] = [];
          const received: number[] = [];
          const controllers = cancelAt.map(() => new AbortController());
          // One producer puts in order; some puts carry a signal that is aborted at a random moment.
          const producer = (async () => {
            for (let i = 0; i < count; i++) {
              const c = controllers[i % Math.max(1, controllers.length)];
              const withSignal = controllers.length > 0 && i % 2 === 0;
              try {
                await q.put(i, withSignal ? { signal: c.signal } : undefined);
                accepted.push(i);
              } catch {
                // cancelled put: its item was not added
              }
              expect(q.size).toBeLessThanOrEqual(maxSize);
              await s.schedule(Promise.resolve());
            }
            return q.close({ immediate });
          })();
          for (const c of controllers) s.schedule(Promise.resolve()).then(() => c.abort());
          const consumerRuns = Array.from({ length: consumers }, async () => {
            for await (const item of q) {
              received.push(item);
              expect(q.size).toBeLessThanOrEqual(maxSize);
              await s.schedule(Promise.resolve());
            }
          });
          const dropped = await s.waitFor(producer);
          await s.waitFor(Promise.all(consumerRuns));
          expect(q.peakSize).toBeLessThanOrEqual(maxSize);
          // Nothing lost, nothing twice: received + dropped is exactly what was accepted.
          expect([...received, ...dropped].sort((a, b) => a - b)).toEqual(accepted);
          // FIFO: consumers take items in the order they were put.
          expect(received).toEqual([...received].sort((a, b) => a - b));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
