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
