import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../lib/bounded-queue.js';
import { consume } from '../../lib/consume.js';
import { RUNS } from '../helpers/runs.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('consume', () => {
  it('runs N consumers, survives failing handlers and resolves when closed and drained', async () => {
    const q = new BoundedQueue<number>(4);
    let running = 0;
    let peak = 0;
    const errors: unknown[] = [];
    const done = consume(
      q,
      3,
      async (n) => {
        peak = Math.max(peak, ++running);
        await tick();
        running--;
        if (n % 5 === 0) throw new Error(`bad ${n}`);
      },
      { onError: (error) => errors.push(error) },
    );
    for (let i = 1; i <= 40; i++) await q.put(i);
    q.close();
    expect(await done).toEqual({ handled: 32, failed: 8 });
    expect(errors).toHaveLength(8);
    expect(peak).toBe(3);
  });

  it('rejects bad arguments naming the option and the value', async () => {
    const q = new BoundedQueue<number>(1);
    await expect(consume(q, 0, async () => {})).rejects.toThrow(
      'Expected `workers` to be an integer >= 1, got 0',
    );
    await expect(consume(q, 1, null as unknown as () => void)).rejects.toThrow(
      'Expected `handler` to be a function, got null',
    );
  });

  it('property: every item is handled or failed exactly once, with at most N at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.boolean(), { maxLength: 30 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        async (s, fails, workers, maxSize) => {
          const q = new BoundedQueue<number>(maxSize);
          let running = 0;
          const seen = new Array(fails.length).fill(0);
          const done = consume(q, workers, (i) => {
            running++;
            expect(running).toBeLessThanOrEqual(workers);
            seen[i]++;
            return s.schedule(Promise.resolve()).then(() => {
              running--;
              if (fails[i]) throw new Error('fail');
            });
          });
          const producer = (async () => {
            for (let i = 0; i < fails.length; i++) await q.put(i);
            q.close();
          })();
          await s.waitFor(producer);
          const result = await s.waitFor(done);
          const failed = fails.filter(Boolean).length;
          expect(result).toEqual({ handled: fails.length - failed, failed });
          expect(seen.every((n) => n === 1)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
