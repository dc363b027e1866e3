// WaiterList, the line Semaphore and BoundedQueue keep their waiters in: the order, the live count, each
// waiter settled once (its cleanup run once), and the memory bound: a cancelled waiter stays in the list
// until reached, and the list is rebuilt once it holds more than COMPACT_AT dead waiters and more dead than
// live. Inside the two primitives the rebuild cannot be seen (the same live waiters, the same order); here
// `stored` shows it, to the waiter.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { COMPACT_AT, onAbort, type Settleable, WaiterList } from '../../lib/queue-waiters.js';

interface Named extends Settleable {
  name: string;
  cleanups: number;
}

function waiter(name: string, withCleanup = true): Named {
  const w: Named = { name, live: true, cleanup: undefined, cleanups: 0 };
  if (withCleanup) w.cleanup = () => w.cleanups++;
  return w;
}

function filled(count: number): { list: WaiterList<Named>; waiters: Named[] } {
  const list = new WaiterList<Named>();
  const waiters = Array.from({ length: count }, (_, i) => waiter(`w${i}`));
  for (const w of waiters) list.push(w);
  return { list, waiters };
}

describe('WaiterList', () => {
  it('takes live waiters in arrival order, each settled once, and then nothing', () => {
    const { list, waiters } = filled(3);
    expect([list.size, list.stored, list.peek()?.name]).toEqual([3, 3, 'w0']);
    expect(list.take()).toBe(waiters[0]);
    expect([waiters[0].live, waiters[0].cleanups, list.size, list.stored]).toEqual([false, 1, 2, 2]);
    expect([list.take()?.name, list.take()?.name]).toEqual(['w1', 'w2']);
    expect([list.take(), list.peek(), list.size, list.stored]).toEqual([undefined, undefined, 0, 0]);
    expect(waiters.map((w) => [w.live, w.cleanups])).toEqual([
      [false, 1],
      [false, 1],
      [false, 1],
    ]);
  });

  it('takes and cancels a waiter that has no cleanup', () => {
    const list = new WaiterList<Named>();
    const [a, b] = [waiter('a', false), waiter('b', false)];
    list.push(a);
    list.push(b);
    expect(list.cancel(a)).toBe(true);
    expect(list.take()).toBe(b);
    expect([a.live, b.live, list.size]).toEqual([false, false, 0]);
  });

  it('cancels out of turn: the waiter stays, dead, until reached, and is skipped', () => {
    const { list, waiters } = filled(3);
    expect(list.cancel(waiters[1])).toBe(true);
    expect([waiters[1].live, waiters[1].cleanups, list.size, list.stored]).toEqual([false, 1, 2, 3]);
    expect(list.take()?.name).toBe('w0');
    expect(list.stored).toBe(2); // the dead one is next, still held
    expect(list.peek()?.name).toBe('w2'); // peek drops it, and leaves w2 in line
    expect([list.size, list.stored]).toEqual([1, 1]);
    expect(list.take()?.name).toBe('w2');
  });

  it('refuses to settle a waiter twice: cancel after a take or a cancel returns false, cleanup not rerun', () => {
    const { list, waiters } = filled(3);
    list.take();
    list.cancel(waiters[1]);
    expect([list.cancel(waiters[0]), list.cancel(waiters[1])]).toEqual([false, false]);
    expect([waiters[0].cleanups, waiters[1].cleanups, list.size]).toEqual([1, 1, 1]);
    expect(list.take()?.name).toBe('w2');
  });

  it(`is rebuilt at the ${COMPACT_AT + 1}th dead waiter, not before, when more are dead than live`, () => {
    const { list, waiters } = filled(COMPACT_AT + 2);
    for (const w of waiters.slice(0, COMPACT_AT)) list.cancel(w);
    expect([list.size, list.stored]).toEqual([2, COMPACT_AT + 2]);
    list.cancel(waiters[COMPACT_AT]);
    expect([list.size, list.stored]).toEqual([1, 1]);
    expect([list.take()?.name, list.take()]).toEqual([`w${COMPACT_AT + 1}`, undefined]);
  });

  it('is not rebuilt while as many are live as dead, and keeps the live ones in order when it is', () => {
    const half = COMPACT_AT + 100;
    const { list, waiters } = filled(2 * half);
    // Every other waiter cancelled: the dead are spread through the list, not only at its head.
    const dead = waiters.filter((_, i) => i % 2 === 0);
    const live = waiters.filter((_, i) => i % 2 === 1);
    for (const w of dead) list.cancel(w);
    expect([list.size, list.stored]).toEqual([half, 2 * half]);
    list.cancel(live[0]);
    expect([list.size, list.stored]).toEqual([half - 1, half - 1]);
    const taken: string[] = [];
    for (let w = list.take(); w; w = list.take()) taken.push(w.name);
    expect(taken).toEqual(live.slice(1).map((w) => w.name));
  });
});

describe('onAbort', () => {
  it('adds one listener that calls fn on abort, and returns what removes it', () => {
    const controller = new AbortController();
    let calls = 0;
    const remove = onAbort(controller.signal, () => calls++);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    remove?.();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort();
    expect(calls).toBe(0);
    const other = new AbortController();
    onAbort(other.signal, () => calls++);
    other.abort();
    expect(calls).toBe(1);
  });

  it('returns nothing, and adds nothing, without a signal', () => {
    expect(onAbort(undefined, () => {})).toBeUndefined();
  });
});
