import { type BoundedOptions, type Source, type TaskFn, validateBoundedArgs } from './bounded-options.js';
import { BoundedScheduler } from './bounded-scheduler.js';
import { AbortError } from './errors.js';
import { Fifo } from './fifo.js';
import type { Release } from './semaphore.js';

export type MapResult<T, R> =
  | { index: number; item: T; status: 'fulfilled'; value: R }
  | { index: number; item: T; status: 'rejected'; reason: unknown };

interface Pending<T, R> {
  resolve: (result: IteratorResult<MapResult<T, R>>) => void;
  reject: (reason: unknown) => void;
}

/*
How it works: the scheduler of runBounded, with each result's slot held until the consumer takes the
result. A slow consumer therefore slows the pulling instead of piling up results: at most `concurrency`
items are running or waiting to be read, so a stream of ten million costs memory for `concurrency`.
Failures are yielded as `rejected` results; with `stopOnError` the loop throws the first failure once the
running tasks settle. Breaking out of the loop stops pulling and aborts the running tasks.
*/
export function mapBounded<T, R>(
  source: Source<T>,
  fn: TaskFn<T, R>,
  options: BoundedOptions,
): AsyncIterableIterator<MapResult<T, Awaited<R>>> {
  const validated = validateBoundedArgs(source, fn, options);
  return new MapBounded<T, Awaited<R>>(source, fn as TaskFn<T, Awaited<R>>, validated);
}

class MapBounded<T, R> implements AsyncIterableIterator<MapResult<T, R>> {
  readonly #scheduler: BoundedScheduler<T, R>;
  readonly #buffer = new Fifo<{ result: MapResult<T, R>; slot: Release }>();
  readonly #pending = new Fifo<Pending<T, R>>();
  #started = false;
  #ended = false;
  #failed = false;
  #error: unknown;

  constructor(source: Source<T>, fn: TaskFn<T, R>, options: BoundedOptions) {
    const hooks = {
      onSettle: (index: number, item: T, ok: boolean, valueOrReason: unknown, slot: Release) => {
        const result: MapResult<T, R> = ok
          ? { index, item, status: 'fulfilled', value: valueOrReason as R }
          : { index, item, status: 'rejected', reason: valueOrReason };
        const waiter = this.#pending.shift();
        if (waiter) {
          this.#scheduler.free(slot);
          waiter.resolve({ value: result, done: false });
        } else {
          this.#buffer.push({ result, slot });
        }
      },
      onEnd: (failed: boolean, error: unknown) => {
        this.#ended = true;
        this.#failed = failed;
        this.#error = error;
        this.#settlePending();
      },
    };
    this.#scheduler = new BoundedScheduler(source, fn, options, hooks, false);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<MapResult<T, R>>> {
    if (!this.#started) {
      this.#started = true;
      this.#scheduler.start();
    }
    const buffered = this.#buffer.shift();
    if (buffered) {
      this.#scheduler.free(buffered.slot);
      return Promise.resolve({ value: buffered.result, done: false });
    }
    if (this.#ended) return this.#finish();
    return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<MapResult<T, R>>> {
    this.#started = true;
    this.#scheduler.abort(new AbortError('mapBounded: the consumer stopped iterating'));
    for (let b = this.#buffer.shift(); b; b = this.#buffer.shift()) this.#scheduler.free(b.slot);
    this.#failed = false;
    this.#settlePending();
    return Promise.resolve({ value: undefined, done: true });
  }

  #finish(): Promise<IteratorResult<MapResult<T, R>>> {
    if (this.#failed) {
      // The failure is reported once; later calls see a finished iterator.
      this.#failed = false;
      return Promise.reject(this.#error);
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  #settlePending(): void {
    for (let waiter = this.#pending.shift(); waiter; waiter = this.#pending.shift()) {
      this.#finish().then(waiter.resolve, waiter.reject);
    }
  }
}
