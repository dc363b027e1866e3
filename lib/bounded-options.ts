import { assertInteger, InvalidArgumentError } from './errors.js';
import { Semaphore } from './semaphore.js';

// What runBounded and mapBounded take, validated before any state is built.

export type Source<T> = Iterable<T> | AsyncIterable<T>;
export type TaskFn<T, R> = (item: T, index: number, signal: AbortSignal) => R | PromiseLike<R>;

export interface BoundedOptions {
  /** How many items may be taken and unfinished at once: a count, or a Semaphore shared with other work. */
  readonly concurrency: number | Semaphore;
  /** Aborting stops pulling at once, is passed on to running tasks, and rejects with the reason. */
  readonly signal?: AbortSignal;
  /** Stop pulling after the first failure and reject with it once the running tasks settle. */
  readonly stopOnError?: boolean;
}

export function validateBoundedArgs(source: unknown, fn: unknown, options: unknown): BoundedOptions {
  if (
    source === null ||
    typeof source !== 'object' ||
    !(Symbol.iterator in source || Symbol.asyncIterator in source)
  ) {
    throw new InvalidArgumentError('source', source, 'an iterable or an async iterable');
  }
  if (typeof fn !== 'function') throw new InvalidArgumentError('fn', fn, 'a function');
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', options, 'an object with `concurrency`');
  }
  const { concurrency, signal, stopOnError = false } = options as BoundedOptions;
  if (!(concurrency instanceof Semaphore)) assertInteger('concurrency', concurrency, { allowInfinity: true });
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal', signal, 'an AbortSignal');
  }
  if (typeof stopOnError !== 'boolean')
    throw new InvalidArgumentError('stopOnError', stopOnError, 'a boolean');
  return { concurrency, signal, stopOnError };
}
