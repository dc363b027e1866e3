import type { Source } from './bounded-options.js';
import { type CancellablePullSource, isCancellablePullSource } from './cancellable-pull.js';

/*
How a BoundedScheduler reads its source, as `for...of` and `for await` would: a source with a cancellable
get (BoundedQueue, cancellable-pull.ts) is pulled through it, an async iterable through its async iterator,
anything else through its iterator. Closing calls the iterator's `return()`, as a loop's `break` does.
*/

export interface OpenedSource<T> {
  /** Pulls settle later (a cancellable get or an async iterator); a sync iterator's next() answers at once. */
  readonly async: boolean;
  readonly iterator: Iterator<T> | AsyncIterator<T> | undefined;
  readonly pullable: CancellablePullSource<T> | undefined;
}

/** Opens `source` for pulling; throws what the source's iterator method throws. */
export function openSource<T>(source: Source<T>): OpenedSource<T> {
  const candidate = source as Partial<AsyncIterable<T> & Iterable<T>>;
  const asyncIterator = candidate[Symbol.asyncIterator];
  if (isCancellablePullSource<T>(candidate)) return { async: true, iterator: undefined, pullable: candidate };
  if (typeof asyncIterator === 'function') {
    return { async: true, iterator: asyncIterator.call(candidate), pullable: undefined };
  }
  return { async: false, iterator: (source as Iterable<T>)[Symbol.iterator](), pullable: undefined };
}

const ignore = () => {};
// Called on the promise itself, as `await` does, so an own `then` put on a native promise is not consulted.
export const promiseThen = Promise.prototype.then;

/** Calls the iterator's `return()`, if it has one; whatever it throws or rejects with is nobody's to report. */
export function closeIterator<T>(iterator: Iterator<T> | AsyncIterator<T> | undefined): void {
  if (!iterator || typeof iterator.return !== 'function') return;
  try {
    promiseThen.call(Promise.resolve(iterator.return()), undefined, ignore);
  } catch {
    // A generator that is running, or a return() that throws: nothing to close, nothing to report.
  }
}

export function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

export function notAnIteratorResult(result: unknown): TypeError {
  return new TypeError(`Iterator result ${String(result)} is not an object`);
}
