// The callers waiting in line, for Semaphore's permits and BoundedQueue's items and places: each settled once,
// either taken in its turn or cancelled out of turn (a signal, a timeout). A cancelled waiter stays in the list,
// marked dead, and is dropped when reached; a list that has become mostly dead (many waits that time out while
// nothing flows) is rebuilt, so it cannot grow without bound. And the checks of a wait's `signal`.
import { InvalidArgumentError } from './errors.js';
import { Fifo } from './fifo.js';

/** What a WaiterList needs of a waiter: whether it still waits, and what to undo once it no longer does. */
export interface Settleable {
  live: boolean;
  cleanup: (() => void) | undefined;
}

export interface Waiter<V> extends Settleable {
  /** A cancellable pull: the item handed to it is reserved (takes a place) until delivered. */
  pull?: boolean;
  resolve: (value: V) => void;
  reject: (reason: unknown) => void;
}

export interface Putter<T> extends Waiter<void> {
  item: T;
}

/** Above this many dead waiters, and more dead than live, a list is rebuilt without them. */
export const COMPACT_AT = 1024;

/** Waiters in arrival order. Settling one (taking or cancelling it) marks it dead and runs its cleanup once. */
export class WaiterList<W extends Settleable> {
  #list = new Fifo<W>();
  #live = 0;

  /** The live waiters. */
  get size(): number {
    return this.#live;
  }

  /** The entries held, dead ones included: what the list costs in memory. */
  get stored(): number {
    return this.#list.size;
  }

  push(waiter: W): void {
    this.#list.push(waiter);
    this.#live++;
  }

  /** The oldest live waiter, left in line; the dead ones before it are dropped. */
  peek(): W | undefined {
    for (let waiter = this.#list.peek(); waiter; waiter = this.#list.peek()) {
      if (waiter.live) return waiter;
      this.#list.shift();
    }
    return undefined;
  }

  /** Takes the oldest live waiter out of line, settled. (Not peek() then shift(): one list step per waiter.) */
  take(): W | undefined {
    for (let waiter = this.#list.shift(); waiter; waiter = this.#list.shift()) {
      if (waiter.live) {
        this.#settle(waiter);
        return waiter;
      }
    }
    return undefined;
  }

  /** Settles a waiter out of turn (it stays in line, dead, until reached); false if it was settled already. */
  cancel(waiter: W): boolean {
    if (!waiter.live) return false;
    this.#settle(waiter);
    const dead = this.#list.size - this.#live;
    if (dead > COMPACT_AT && dead > this.#live) this.#compact();
    return true;
  }

  #settle(waiter: W): void {
    waiter.live = false;
    waiter.cleanup?.();
    this.#live--;
  }

  #compact(): void {
    const live = new Fifo<W>();
    for (const waiter of this.#list) if (waiter.live) live.push(waiter);
    this.#list = live;
  }
}

export function checkSignal(options: { readonly signal?: unknown } | undefined): AbortSignal | undefined {
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal', signal, 'an AbortSignal');
  }
  return signal;
}

/**
 * Calls `fn` when `signal` aborts; returns what removes the listener (nothing without a signal). No `once`:
 * every caller's `fn` settles its waiter, and settling runs the cleanup that removes the listener.
 */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): (() => void) | undefined {
  if (!signal) return undefined;
  signal.addEventListener('abort', fn);
  return () => signal.removeEventListener('abort', fn);
}
