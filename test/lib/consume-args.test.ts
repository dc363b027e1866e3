// consume()'s smaller promises, by exact values: each handler call and each onError call is told which
// worker it runs on, onError gets the error and the item, a failing handler without onError is only counted,
// and a bad onError is refused naming the option and the value.
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../lib/bounded-queue.js';
import { consume } from '../../lib/consume.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('consume: what the handler and onError are told', () => {
  it('passes the worker id to the handler and (error, item, worker) to onError', async () => {
    const q = new BoundedQueue<number>(8);
    const workersSeen = new Set<number>();
    const failures: [string, number, number][] = [];
    const done = consume(
      q,
      2,
      async (n, worker) => {
        workersSeen.add(worker);
        await tick(); // both workers take an item before either finishes
        if (n === 3) throw new Error(`bad ${n} on ${worker}`);
      },
      { onError: (error, item, worker) => failures.push([(error as Error).message, item, worker]) },
    );
    for (const n of [1, 2, 3, 4]) await q.put(n);
    q.close();
    expect(await done).toEqual({ handled: 3, failed: 1 });
    expect([...workersSeen].sort()).toEqual([0, 1]);
    expect(failures).toHaveLength(1);
    const [message, item, worker] = failures[0]!;
    expect(item).toBe(3);
    expect(message).toBe(`bad 3 on ${worker}`);
    expect([0, 1]).toContain(worker);
  });

  it('without onError a failing handler is counted and its consumer goes on', async () => {
    const q = new BoundedQueue<number>(4);
    const seen: number[] = [];
    const done = consume(q, 1, (n) => {
      seen.push(n);
      if (n % 2 === 0) throw new Error('even');
    });
    for (const n of [1, 2, 3, 4]) await q.put(n);
    q.close();
    expect(await done).toEqual({ handled: 2, failed: 2 });
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('refuses an onError that is not a function, naming it and the value', async () => {
    const q = new BoundedQueue<number>(1);
    q.close(); // so that a consume that wrongly starts ends at once
    await expect(consume(q, 1, () => {}, { onError: 5 as unknown as () => void })).rejects.toThrow(
      'Expected `onError` to be a function, got 5',
    );
    await expect(consume(q, 1.5, () => {})).rejects.toThrow(
      'Expected `workers` to be an integer >= 1, got 1.5',
    );
    expect(await consume(q, 1, () => {}, { onError: undefined })).toEqual({ handled: 0, failed: 0 });
  });
});
