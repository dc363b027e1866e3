// The waiters of a BoundedQueue: a blocked producer (with its item) or consumer, settled once. A cancelled waiter
// stays in its list marked dead and is skipped when reached (lib/bounded-queue.ts); liveOnly rebuilds a list that
// has become mostly dead. And the checks of a wait's `signal`.
import { InvalidArgumentError } from './errors.js';
import { Fifo } from './fifo.js';

export interface Waiter<V> {
  live: boolean;
  /** A cancellable pull: the item handed to it is reserved (takes a place) until delivered. */
  pull?: boolean;
  resolve: (value: V) => void;
  reject: (reason: unknown) => void;
  cleanup: (() => void) | undefined;
}

export interface Putter<T> extends Waiter<void> {
  item: T;
}

/** A waiter list rebuilt without its cancelled (dead) waiters. */
export function liveOnly<W extends { live: boolean }>(list: Fifo<W>): Fifo<W> {
  const live = new Fifo<W>();
  for (const waiter of list) if (waiter.live) live.push(waiter);
  return live;
}

export function checkSignal(options: { readonly signal?: unknown } | undefined): AbortSignal | undefined {
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal', signal, 'an AbortSignal');
  }
  return signal;
}

/** Calls `fn` once when `signal` aborts; returns what removes the listener (nothing without a signal). */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): (() => void) | undefined {
  if (!signal) return undefined;
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}
