// BoundedQueue's waiters remove their abort listener once settled (counted with events.getEventListeners):
// a get handed an item, a put whose item moved in, and a waiter cancelled by its signal.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../lib/bounded-queue.js';

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

describe('BoundedQueue: the abort listener of a waiter', () => {
  it('is removed when a waiting get is handed an item and when a blocked put moves in', async () => {
    const q = new BoundedQueue<string>(1);
    const controller = new AbortController();
    const { signal } = controller;
    const got = q.get({ signal });
    expect(listeners(signal)).toBe(1);
    q.tryPut('a');
    expect(await got).toBe('a');
    expect(listeners(signal)).toBe(0);
    q.tryPut('b');
    const put = q.put('c', { signal });
    expect(listeners(signal)).toBe(1);
    expect(await q.get()).toBe('b');
    await put;
    expect(listeners(signal)).toBe(0);
  });

  it('is removed when the signal cancels the waiter', async () => {
    const q = new BoundedQueue<string>(1);
    const controller = new AbortController();
    const got = q.get({ signal: controller.signal });
    controller.abort(new Error('gone'));
    await expect(got).rejects.toThrow('gone');
    expect(listeners(controller.signal)).toBe(0);
  });
});
