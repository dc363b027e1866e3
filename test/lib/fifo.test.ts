// Fifo, the linked list under every waiter list, by exact contents: push/shift order, unshift to the head
// (on an empty list too, which then becomes the tail), peek, clear, size and iteration after each step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fifo } from '../../lib/fifo.js';
import { RUNS } from '../helpers/runs.js';

describe('Fifo', () => {
  it('shifts in push order, and an empty list shifts and peeks undefined', () => {
    const f = new Fifo<string>();
    expect([f.size, f.shift(), f.peek(), [...f]]).toEqual([0, undefined, undefined, []]);
    f.push('a');
    f.push('b');
    expect([f.size, f.peek(), [...f]]).toEqual([2, 'a', ['a', 'b']]);
    expect(f.shift()).toBe('a');
    expect([f.size, f.peek(), [...f]]).toEqual([1, 'b', ['b']]);
    expect(f.shift()).toBe('b');
    expect([f.size, f.shift(), [...f]]).toEqual([0, undefined, []]);
    f.push('c'); // the list emptied by shift takes a push as its head and its tail
    f.push('d');
    expect([f.size, [...f]]).toEqual([2, ['c', 'd']]);
  });

  it('unshift puts a value at the head; on an empty list it is also the tail', () => {
    const f = new Fifo<number>();
    f.unshift(1);
    f.push(2);
    expect([f.size, f.peek(), [...f]]).toEqual([2, 1, [1, 2]]);
    f.unshift(0);
    expect([f.size, [...f]]).toEqual([3, [0, 1, 2]]);
    expect([f.shift(), f.shift(), f.shift(), f.shift()]).toEqual([0, 1, 2, undefined]);
    f.push(3);
    expect([...f]).toEqual([3]);
  });

  it('clear empties it, and it works as new afterwards', () => {
    const f = new Fifo<number>();
    f.push(1);
    f.push(2);
    f.clear();
    expect([f.size, f.peek(), f.shift(), [...f]]).toEqual([0, undefined, undefined, []]);
    f.push(3);
    f.unshift(4);
    expect([f.size, [...f]]).toEqual([2, [4, 3]]);
  });

  it('property: behaves as an array under any mix of push, unshift, shift and clear', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), value: fc.integer() }),
      fc.record({ kind: fc.constant('unshift' as const), value: fc.integer() }),
      fc.record({ kind: fc.constant('shift' as const) }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const f = new Fifo<number>();
        const model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            f.push(o.value);
            model.push(o.value);
          } else if (o.kind === 'unshift') {
            f.unshift(o.value);
            model.unshift(o.value);
          } else if (o.kind === 'shift') {
            expect(f.shift()).toBe(model.shift());
          } else {
            f.clear();
            model.length = 0;
          }
          expect([f.size, f.peek(), [...f]]).toEqual([model.length, model[0], model]);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
