/*
A source that can withdraw a pending get taking nothing (asyncio's cancelled getter), so a consumer that
stops never loses an item. BoundedQueue implements it; the bounded scheduler pulls through it in preference
to the source's async iterator, whose pending next() cannot be withdrawn (see bounded-scheduler.ts).
runBounded and mapBounded still require the source to be (async) iterable, as BoundedQueue is.
*/

export const pullCancellable: unique symbol = Symbol.for('bounded-fanout.pullCancellable');

/** A get that is waiting for its item. */
export interface PendingPull {
  /** Withdraws the get: true if it took nothing (the item stays in the source), false once delivered. */
  cancel(): boolean;
}

export interface CancellablePullSource<T> {
  /**
   * Asks for the next item. `deliver` is called once, never synchronously, in a reaction registered by this
   * call (so it runs in the caller's async context), with the item or with `done` once the source is
   * finished; it is not called at all if `cancel()` returned true first.
   */
  [pullCancellable](deliver: (result: IteratorResult<T, undefined>) => void): PendingPull;
}

export function isCancellablePullSource<T>(source: unknown): source is CancellablePullSource<T> {
  return (
    source !== null &&
    typeof source === 'object' &&
    typeof (source as Partial<CancellablePullSource<T>>)[pullCancellable] === 'function'
  );
}
