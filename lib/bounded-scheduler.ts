import type { BoundedOptions, Source, TaskFn } from './bounded-options.js';
import { type CancellablePullSource, type PendingPull, pullCancellable } from './cancellable-pull.js';
import { SchedulerSlots } from './scheduler-slots.js';
import { closeIterator, isObject, notAnIteratorResult, openSource, promiseThen } from './scheduler-source.js';
import type { Release } from './semaphore.js';

/*
How it works (a running count plus asyncio.wait(FIRST_COMPLETED)):
- A slot is taken before an item is pulled from the source, so never more than `concurrency` items are taken
  and unfinished: a source of ten million items costs memory for `concurrency` of them.
- `#fill` pulls and starts items while a slot is free. A finishing task frees its slot and calls `#fill`
  again: that is the "start the next one when one finishes" loop, with no polling.
- Each concurrent task runs in a lane: a small object whose settle callbacks are made once and reused, so a
  task costs no closures of its own (the difference between 0.5 M and 4 M tasks/s).
- The limit is either a plain count or a shared Semaphore (scheduler-slots.ts); with a Semaphore each slot is
  one permit, so the limit is shared with other work and follows `setPermits` live.
- Stopping (abort, stopOnError, a failing source, a consumer that leaves) stops pulling at once and closes
  the source's iterator, as `for...of` would on break. A pull still pending gives its slot back at the stop.
  A source with a cancellable get (BoundedQueue, see cancellable-pull.ts) is pulled through it and the get
  is withdrawn, taking nothing: the item stays in the queue. A generic async iterator's pending next() cannot
  be withdrawn: `return()` is called at once (an async generator runs it after that next() and finishes),
  and the item that next() yields is dropped, since the iterator protocol has no way to give an item back.
- Results and pulls are taken as `await` takes them: through Promise.resolve, so a thenable's `then` is
  called once, later, its first callback counts, a throwing `then` is a rejection, and no callback runs
  synchronously (no recursion however many thenables settle at once). A native promise passes through
  Promise.resolve as itself, so the common case costs nothing extra.
*/

export interface SchedulerHooks<T> {
  /** A task settled. Unless `freeOnSettle`, the hook hands `slot` back with `scheduler.free(slot)`. */
  onSettle(index: number, item: T, ok: boolean, valueOrReason: unknown, slot: Release): void;
  /** Called once: nothing more will settle. `failed` with the error for abort, stopOnError or a bad source. */
  onEnd(failed: boolean, error: unknown): void;
}

const NOOP: Release = () => {};

interface Lane<T> {
  index: number;
  item: T | undefined;
  slot: Release;
  ok: (value: unknown) => void;
  fail: (reason: unknown) => void;
}

export class BoundedScheduler<T, R> {
  readonly #fn: TaskFn<T, R>;
  readonly #hooks: SchedulerHooks<T>;
  readonly #freeOnSettle: boolean;
  readonly #stopOnError: boolean;
  readonly #slots: SchedulerSlots;
  readonly #userSignal: AbortSignal | undefined;
  readonly #controller = new AbortController();
  // AbortController's `signal` is a getter; read once rather than per task.
  readonly #signal = this.#controller.signal;
  #iterator: Iterator<T> | AsyncIterator<T> | undefined;
  #pullable: CancellablePullSource<T> | undefined;
  #pendingPull: PendingPull | undefined;
  /** The slot held by the pull under way; given back (and cleared) if the run stops first. */
  #pullSlot: Release | undefined;
  #async = false;
  #source: Source<T>;
  #running = 0;
  #nextIndex = 0;
  #pulling = false;
  #exhausted = false;
  #stopped = false;
  #ended = false;
  #error: unknown;
  #failed = false;
  #lanes: Lane<T>[] = [];

  constructor(
    source: Source<T>,
    fn: TaskFn<T, R>,
    options: BoundedOptions,
    hooks: SchedulerHooks<T>,
    freeOnSettle: boolean,
  ) {
    this.#source = source;
    this.#fn = fn;
    this.#hooks = hooks;
    this.#freeOnSettle = freeOnSettle;
    this.#stopOnError = options.stopOnError ?? false;
    this.#slots = new SchedulerSlots(
      options.concurrency,
      () => !(this.#stopped || this.#exhausted || this.#ended),
      () => this.#fill(),
    );
    this.#userSignal = options.signal;
  }

  /** The signal passed to every task: aborted by the caller's signal or when the consumer stops. */
  get signal(): AbortSignal {
    return this.#signal;
  }

  start(): void {
    if (this.#userSignal?.aborted) {
      this.#end(true, this.#userSignal.reason);
      return;
    }
    this.#userSignal?.addEventListener('abort', this.#onUserAbort, { once: true });
    try {
      ({ async: this.#async, iterator: this.#iterator, pullable: this.#pullable } = openSource(this.#source));
    } catch (error) {
      this.#end(true, error);
      return;
    }
    this.#fill();
  }

  /** Stops pulling and aborts running tasks; nothing more is reported. */
  abort(reason: unknown): void {
    if (this.#ended) return;
    this.#stop();
    this.#controller.abort(reason);
    this.#end(true, reason);
  }

  /** Gives a slot back (for hooks that keep it until their consumer takes the result). */
  free(slot: Release): void {
    this.#slots.give(slot);
    this.#fill();
  }

  #onUserAbort = (): void => this.abort(this.#userSignal!.reason);

  #fill(): void {
    while (!this.#stopped && !this.#exhausted && !this.#pulling) {
      const slot = this.#slots.take();
      if (slot === undefined) break;
      if (this.#async) {
        this.#pullAsync(slot);
        break;
      }
      let result: IteratorResult<T>;
      try {
        result = (this.#iterator as Iterator<T>).next();
      } catch (error) {
        this.#slots.give(slot);
        this.#sourceFailed(error);
        return;
      }
      if (!isObject(result)) {
        this.#slots.give(slot);
        this.#sourceFailed(notAnIteratorResult(result));
        return;
      }
      if (result.done) {
        this.#slots.give(slot);
        this.#markExhausted();
        break;
      }
      this.#start(result.value, slot);
    }
    this.#endIfIdle();
  }

  #pullAsync(slot: Release): void {
    this.#pulling = true;
    this.#pullSlot = slot;
    let pulled: Promise<unknown>;
    try {
      if (this.#pullable) {
        this.#pendingPull = this.#pullable[pullCancellable](this.#onPulled);
        return;
      }
      // Promise.resolve, as `for await` does: next() may return a plain { value, done } or any thenable.
      pulled = Promise.resolve((this.#iterator as AsyncIterator<T>).next());
    } catch (error) {
      pulled = Promise.reject(error);
    }
    promiseThen.call(pulled, this.#onPulled, this.#onPullFailed);
  }

  // A pull that ends after the run stopped finds no slot (it went back at the stop) and is ignored.
  #onPulled = (result: unknown): void => {
    const slot = this.#endPull();
    if (slot === undefined) return;
    if (!isObject(result)) {
      this.#slots.give(slot);
      this.#sourceFailed(notAnIteratorResult(result));
      return;
    }
    const { done, value } = result as IteratorResult<T>;
    if (done) {
      this.#slots.give(slot);
      this.#markExhausted();
    } else {
      this.#start(value, slot);
    }
    this.#fill();
  };

  #onPullFailed = (error: unknown): void => {
    const slot = this.#endPull();
    if (slot === undefined) return;
    this.#slots.give(slot);
    this.#sourceFailed(error);
  };

  #endPull(): Release | undefined {
    const slot = this.#pullSlot;
    this.#pulling = false;
    this.#pendingPull = undefined;
    this.#pullSlot = undefined;
    return slot;
  }

  #start(item: T, slot: Release): void {
    const lane = this.#lanes.pop() ?? this.#newLane();
    lane.index = this.#nextIndex++;
    lane.item = item;
    lane.slot = slot;
    this.#running++;
    let settled: Promise<unknown>;
    try {
      settled = Promise.resolve(this.#fn(item, lane.index, this.#signal));
    } catch (error) {
      settled = Promise.reject(error);
    }
    promiseThen.call(settled, lane.ok, lane.fail);
  }

  #newLane(): Lane<T> {
    const lane: Lane<T> = {
      index: 0,
      item: undefined,
      slot: NOOP,
      ok: (value) => this.#settle(lane, true, value),
      fail: (reason) => this.#settle(lane, false, reason),
    };
    return lane;
  }

  #settle(lane: Lane<T>, ok: boolean, valueOrReason: unknown): void {
    const { index, item, slot } = lane;
    lane.item = undefined;
    lane.slot = NOOP;
    this.#lanes.push(lane);
    this.#running--;
    if (this.#ended) {
      this.#slots.give(slot);
      return;
    }
    if (!ok && this.#stopOnError && !this.#failed) {
      this.#failed = true;
      this.#error = valueOrReason;
      this.#stop();
    }
    this.#hooks.onSettle(index, item as T, ok, valueOrReason, slot);
    if (this.#freeOnSettle) this.#slots.give(slot);
    this.#fill();
  }

  #markExhausted(): void {
    this.#exhausted = true;
    this.#slots.releaseGranted();
  }

  #sourceFailed(error: unknown): void {
    if (!this.#failed) {
      this.#failed = true;
      this.#error = error;
    }
    this.#stop();
    this.#endIfIdle();
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#slots.stop();
    this.#abandonPull();
    if (!this.#exhausted) closeIterator(this.#iterator);
  }

  // The pull under way, if any, gives its slot back now rather than when (or if) the source answers.
  #abandonPull(): void {
    this.#pendingPull?.cancel(); // a cancellable get takes nothing: the item stays in the source
    const slot = this.#endPull();
    if (slot !== undefined) this.#slots.give(slot);
  }

  #endIfIdle(): void {
    if (this.#ended || this.#running > 0) return;
    if (this.#exhausted || this.#stopped) this.#end(this.#failed, this.#error);
  }

  #end(failed: boolean, error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#userSignal?.removeEventListener('abort', this.#onUserAbort);
    this.#hooks.onEnd(failed, error);
  }
}
