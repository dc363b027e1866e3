// runBounded on a Semaphore shared with other work, when no permit is free at the start: the run waits its turn
// in the semaphore's queue (one queued acquire), then runs every item, one permit each, and gives all back.
import { describe, expect, it } from 'vitest';
import { runBounded } from '../../lib/run-bounded.js';
import { Semaphore } from '../../lib/semaphore.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('runBounded on a Semaphore with no permit free', () => {
  it('queues one acquire, runs nothing until a permit returns, then runs every item and releases', async () => {
    const sem = new Semaphore(1);
    const held = sem.tryAcquire()!;
    const ran: number[] = [];
    const run = runBounded([1, 2, 3], (n) => ran.push(n), { concurrency: sem });
    await tick();
    expect([ran, sem.waiting, sem.inFlight]).toEqual([[], 1, 1]);
    held();
    await run;
    expect([ran, sem.waiting, sem.inFlight, sem.peakInFlight]).toEqual([[1, 2, 3], 0, 0, 1]);
  });
});

describe('runBounded on a Semaphore: permits left behind at the stop and at the end', () => {
  it('an abort while the run waits for a permit withdraws its queued acquire', async () => {
    const sem = new Semaphore(1);
    const held = sem.tryAcquire()!;
    const controller = new AbortController();
    const ran: number[] = [];
    const run = runBounded([1, 2], (n) => ran.push(n), { concurrency: sem, signal: controller.signal });
    await tick();
    expect(sem.waiting).toBe(1);
    controller.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    expect([ran, sem.waiting, sem.inFlight]).toEqual([[], 0, 1]);
    held();
    expect([sem.waiting, sem.inFlight]).toEqual([0, 0]);
  });

  it('a permit granted while a pull is under way goes back when that pull finds the source exhausted', async () => {
    // Two tasks hold both permits and the run waits with one queued acquire. Both tasks end in the same tick:
    // the first one's permit goes to the queued acquire, the second one's is taken at once for the next pull,
    // so the granted permit arrives while that pull is under way and is kept for the pull after it. The
    // source then ends: the kept permit must go back, or the semaphore stays one permit short for good.
    const sem = new Semaphore(2);
    let next = 0;
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => (next < 2 ? { value: next++, done: false } : { value: undefined, done: true }),
      }),
    };
    const ends: (() => void)[] = [];
    const run = runBounded(source, (n) => new Promise<void>((resolve) => (ends[n] = resolve)), {
      concurrency: sem,
    });
    for (let i = 0; i < 5 && sem.waiting === 0; i++) await tick();
    expect([sem.inFlight, sem.waiting]).toEqual([2, 1]);
    for (const end of ends) end();
    await run;
    expect([sem.inFlight, sem.waiting, sem.peakInFlight]).toEqual([0, 0, 2]);
  });
});
