import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../lib/bounded-queue.js';
import { isCancellablePullSource, pullCancellable } from '../../lib/cancellable-pull.js';

// BoundedQueue's cancellable get (asyncio's getter): a pull cancelled before it resumes takes nothing.

const flush = () => new Promise((resolve) => setImmediate(resolve));

function pullFrom<T>(queue: BoundedQueue<T>) {
  const delivered: IteratorResult<T, undefined>[] = [];
  const pending = queue[pullCancellable]((result) => delivered.push(result));
  return { delivered, pending };
}

describe('BoundedQueue [pullCancellable]', () => {
  it('is recognised as a cancellable source; arrays and generators are not', () => {
    expect(isCancellablePullSource(new BoundedQueue(1))).toBe(true);
    expect([isCancellablePullSource([1]), isCancellablePullSource(null)]).toEqual([false, false]);
  });

  it('is keyed in the global symbol registry, so a queue from another copy of the library is recognised', () => {
    // Two copies of bounded-fanout in one process (two versions in node_modules) each make the symbol with
    // Symbol.for, and so agree on it.
    const key = Symbol.for('bounded-fanout.pullCancellable');
    expect(pullCancellable).toBe(key);
    const foreign = { [key]: () => ({ cancel: () => true }) };
    expect(isCancellablePullSource(foreign)).toBe(true);
  });

  it('needs an object whose key holds a function', () => {
    const method = () => ({ cancel: () => true });
    // A function carrying the method is not a source: runBounded and mapBounded take only objects.
    expect(isCancellablePullSource(Object.assign(() => {}, { [pullCancellable]: method }))).toBe(false);
    expect(isCancellablePullSource({ [pullCancellable]: true })).toBe(false);
    expect(isCancellablePullSource({ [pullCancellable]: method })).toBe(true);
    expect([isCancellablePullSource(undefined), isCancellablePullSource('queue')]).toEqual([false, false]);
  });

  it('delivers a queued item in a later reaction, never synchronously', async () => {
    const queue = new BoundedQueue<string>(2);
    queue.tryPut('a');
    const pull = pullFrom(queue);
    expect([pull.delivered, queue.size]).toEqual([[], 1]); // reserved, still counted
    await flush();
    expect([pull.delivered, queue.size]).toEqual([[{ done: false, value: 'a' }], 0]);
    expect(pull.pending.cancel()).toBe(false);
  });

  it('cancelled while waiting: takes nothing, the next put is queued', async () => {
    const queue = new BoundedQueue<string>(2);
    const pull = pullFrom(queue);
    expect(queue.waitingGet).toBe(1);
    expect(pull.pending.cancel()).toBe(true);
    expect(queue.waitingGet).toBe(0);
    queue.tryPut('a');
    await flush();
    expect([pull.delivered, queue.size, await queue.get()]).toEqual([[], 1, 'a']);
  });

  it('cancelled after the hand-off but before it resumed: the item goes back to the head', async () => {
    const queue = new BoundedQueue<string>(2);
    const pull = pullFrom(queue);
    queue.tryPut('a'); // handed to the pull
    queue.tryPut('b');
    expect(queue.size).toBe(2);
    expect(queue.tryPut('c')).toBe(false); // the reserved item takes a place
    expect(pull.pending.cancel()).toBe(true);
    await flush();
    expect(pull.delivered).toEqual([]);
    expect(queue.close({ immediate: true })).toEqual(['a', 'b']);
    expect(queue.peakSize).toBe(2);
  });

  it('an item given back goes to the next waiting consumer', async () => {
    const queue = new BoundedQueue<string>(1);
    const pull = pullFrom(queue);
    queue.tryPut('a'); // handed to the pull
    const getter = queue.get(); // waits: nothing is queued
    expect(pull.pending.cancel()).toBe(true);
    expect(await getter).toBe('a');
    expect([pull.delivered, queue.size]).toEqual([[], 0]);
  });

  it('the reserved item keeps its place: a blocked producer waits until it is really taken', async () => {
    const queue = new BoundedQueue<string>(1);
    const pull = pullFrom(queue);
    queue.tryPut('a'); // handed to the pull, reserving the only place
    let bPut = false;
    const blocked = queue.put('b').then(() => {
      bPut = true;
    });
    pull.pending.cancel(); // 'a' back in its place
    await flush();
    expect([bPut, queue.waitingPut, queue.size]).toEqual([false, 1, 1]);
    expect(await queue.get()).toBe('a');
    await blocked;
    expect([pull.delivered, await queue.get(), queue.peakSize]).toEqual([[], 'b', 1]);
  });

  it('a pull with no place left waits: the blocked put reaches it once the place frees', async () => {
    const queue = new BoundedQueue<string>(1);
    const first = pullFrom(queue);
    const second = pullFrom(queue);
    queue.tryPut('a'); // to the first pull
    expect(queue.tryPut('b')).toBe(false); // the second pull would need a second place
    const blocked = queue.put('b');
    await flush();
    await blocked;
    expect(first.delivered).toEqual([{ done: false, value: 'a' }]);
    expect(second.delivered).toEqual([{ done: false, value: 'b' }]);
    expect([queue.size, queue.peakSize]).toEqual([0, 1]);
  });

  it('delivers done once the queue is closed and drained', async () => {
    const queue = new BoundedQueue<string>(1);
    const waiting = pullFrom(queue);
    queue.close();
    const late = pullFrom(queue);
    await flush();
    expect([waiting.delivered, late.delivered]).toEqual([
      [{ done: true, value: undefined }],
      [{ done: true, value: undefined }],
    ]);
  });
});
