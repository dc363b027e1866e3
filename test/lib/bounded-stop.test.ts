import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../lib/bounded-queue.js';
import { mapBounded } from '../../lib/map-bounded.js';
import { runBounded } from '../../lib/run-bounded.js';
import { Semaphore } from '../../lib/semaphore.js';
import { collectUnhandled } from '../helpers/runs.js';

// Issue 12 item 15: stopping while a pull from an async source is pending.

const tick = () => new Promise((resolve) => setImmediate(resolve));

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** A queue holding `items`, to be pulled by a run that then waits on its empty queue. */
async function queueOf(items: string[]): Promise<BoundedQueue<string>> {
  const queue = new BoundedQueue<string>(10);
  for (const item of items) await queue.put(item);
  return queue;
}

describe('stopping while a BoundedQueue get is pending', () => {
  it('abort: the shared permit comes back when the run rejects, and a later put stays in the queue', async () => {
    const sem = new Semaphore(2);
    const queue = await queueOf(['a', 'b']);
    const controller = new AbortController();
    const ran: string[] = [];
    const run = runBounded(queue, (item) => ran.push(item), {
      concurrency: sem,
      signal: controller.signal,
    });
    for (let i = 0; i < 3; i++) await tick(); // a and b done; the run waits on the empty queue
    expect([ran, queue.waitingGet, sem.inFlight]).toEqual([['a', 'b'], 1, 1]);
    controller.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    expect([sem.inFlight, queue.waitingGet]).toEqual([0, 0]);
    await queue.put('c');
    expect(queue.size).toBe(1); // not handed to the stopped run
    expect(await queue.get()).toBe('c');
    expect(ran).toEqual(['a', 'b']);
  });

  it('stopOnError: the permit comes back and the queue keeps the next item', async () => {
    const sem = new Semaphore(3);
    const queue = await queueOf(['a', 'fail']);
    const run = runBounded(
      queue,
      async (item) => {
        for (let i = 0; i < 3; i++) await tick();
        if (item === 'fail') throw new Error('task failed');
      },
      { concurrency: sem, stopOnError: true },
    );
    await expect(run).rejects.toThrow('task failed');
    expect(sem.inFlight).toBe(0);
    queue.tryPut('c');
    expect(queue.size).toBe(1);
    expect(queue.close({ immediate: true })).toEqual(['c']);
  });

  it('break out of mapBounded: the permit comes back and the queue keeps the next item', async () => {
    const sem = new Semaphore(2);
    const queue = await queueOf(['a']);
    for await (const r of mapBounded(queue, async (item) => item, { concurrency: sem })) {
      expect(r).toEqual({ index: 0, item: 'a', status: 'fulfilled', value: 'a' });
      await tick(); // the run now waits on the empty queue
      break;
    }
    expect([sem.inFlight, queue.waitingGet]).toEqual([0, 0]);
    await queue.put('b');
    expect(queue.close({ immediate: true })).toEqual(['b']);
  });

  it('an item handed to the get in the same tick as the abort goes back to the head of the queue', async () => {
    const sem = new Semaphore(1);
    const queue = new BoundedQueue<string>(2);
    const controller = new AbortController();
    const ran: string[] = [];
    const run = runBounded(queue, (item) => ran.push(item), { concurrency: sem, signal: controller.signal });
    await tick();
    queue.tryPut('a'); // handed to the run's get, which has not resumed yet
    expect(queue.size).toBe(1); // still counted: reserved for the get
    controller.abort(new Error('stop'));
    queue.tryPut('b');
    await expect(run).rejects.toThrow('stop');
    expect([ran, sem.inFlight, queue.size]).toEqual([[], 0, 2]);
    expect([await queue.get(), await queue.get()]).toEqual(['a', 'b']);
  });
});

describe('stopping while a generic async iterator’s next() is pending', () => {
  it('gives the permit back at once, calls return(), and documents that the late item is dropped', async () => {
    const sem = new Semaphore(2);
    const stalled = gate();
    const log: string[] = [];
    async function* source() {
      try {
        yield 1;
        await stalled.opened; // next() pending here when the run stops
        log.push('yielded 2');
        yield 2;
        log.push('resumed after 2');
      } finally {
        log.push('closed');
      }
    }
    const controller = new AbortController();
    const ran: number[] = [];
    const unhandled = await collectUnhandled(async () => {
      const run = runBounded(source(), (i) => ran.push(i), { concurrency: sem, signal: controller.signal });
      for (let i = 0; i < 3; i++) await tick();
      controller.abort(new Error('stop'));
      await expect(run).rejects.toThrow('stop');
      expect(sem.inFlight).toBe(0); // not held until the source answers
      stalled.open();
      for (let i = 0; i < 3; i++) await tick();
    });
    // return() was queued behind the pending next(): the generator yields 2 to that next(), which the
    // stopped run drops (the iterator protocol cannot take it back), then closes without resuming.
    expect(log).toEqual(['yielded 2', 'closed']);
    expect([ran, sem.inFlight, unhandled]).toEqual([[1], 0, []]);
  });

  it('stopOnError with a pending next(): the run rejects once the running tasks settle, permit returned', async () => {
    const sem = new Semaphore(2);
    const stalled = gate();
    async function* source() {
      yield 'fail';
      await stalled.opened;
      yield 'late';
    }
    const ran: string[] = [];
    const run = runBounded(
      source(),
      async (item) => {
        ran.push(item);
        await tick();
        throw new Error(`task ${item} failed`);
      },
      { concurrency: sem, stopOnError: true },
    );
    await expect(run).rejects.toThrow('task fail failed');
    expect(sem.inFlight).toBe(0);
    stalled.open();
    for (let i = 0; i < 3; i++) await tick();
    expect([ran, sem.inFlight]).toEqual([['fail'], 0]);
  });
});
