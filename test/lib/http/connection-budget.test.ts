// The total-socket counter behind the undici dispatcher: never more than `limit` held, waiters served in
// order, every slot returned exactly once.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionBudget } from '../../../lib/http/index.js';

describe('ConnectionBudget', () => {
  it('for any interleaving of acquires and releases: open <= limit, FIFO, nothing lost', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.oneof(fc.constant('acquire' as const), fc.nat(20)), { maxLength: 200 }),
        (limit, ops) => {
          const budget = new ConnectionBudget(limit);
          const held: Array<() => void> = [];
          const started: number[] = [];
          let asked = 0;
          for (const op of ops) {
            if (op === 'acquire') {
              const n = asked++;
              budget.acquire((release) => {
                started.push(n);
                held.push(release);
              });
            } else if (held.length > 0) {
              const [release] = held.splice(op % held.length, 1);
              release();
              release(); // a second release is ignored
            }
            expect(budget.open).toBeLessThanOrEqual(limit);
            expect(budget.open).toBe(held.length);
            expect(budget.open + budget.waiting).toBe(asked - (started.length - held.length));
          }
          // Slots go out in the order they were asked for.
          expect(started).toEqual([...started].sort((a, b) => a - b));
          while (held.length > 0) held.shift()?.();
          expect(started).toHaveLength(asked);
          expect(budget.open).toBe(0);
          expect(budget.waiting).toBe(0);
          expect(budget.peak).toBeLessThanOrEqual(limit);
        },
      ),
    );
  });
});
