// One key of the KeyedLimiter: its limit and counts, its FIFO of waiters (a linked list: waiter-list.ts), its
// place in the ready heap and the timer of a gate holding it back.
import type { Release } from '../semaphore.js';
import type { TimerHandle } from './clock.js';
import type { HeapEntry } from './key-heap.js';
import type { ListedWaiter, WaiterList } from './waiter-list.js';

export interface Waiter extends ListedWaiter<Waiter> {
  readonly seq: number;
  readonly onAdmit: (release: Release) => void;
}

export class KeyState implements HeapEntry, WaiterList<Waiter> {
  heapIndex = -1;
  inFlight = 0;
  waiting = 0;
  head: Waiter | undefined;
  tail: Waiter | undefined;
  /** Set while the gate holds this key back. */
  timer: TimerHandle | undefined;
  constructor(
    readonly key: string,
    public limit: number,
  ) {}
  get order(): number {
    return this.head!.seq;
  }
}
