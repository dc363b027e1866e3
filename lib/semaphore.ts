import { AbortError, assertInteger, InvalidArgumentError, TimeoutError } from './errors.js';
import { onAbort, type Settleable, WaiterList } from './queue-waiters.js';

/*
How it works (asyncio.Semaphore, FIFO with no barging):
- `#inFlight` counts held permits. It is raised synchronously, before any await, so no interleaving can
  admit more than `permits` holders.
- A caller that cannot take a permit at once queues a waiter. Every permit freed (a release, a larger
  limit) goes straight to the oldest live waiter (`#drain`), so a permit is free only while nobody waits,
  and a newcomer that finds one never overtakes a waiter (no barging). Aborted or timed-out waiters are
  marked dead and skipped lazily (queue-waiters.ts); they never hold a permit.
- A waiter whose signal aborts after it was granted, before its caller resumed, gives the permit back at
  once, so it passes on to the next waiter and is never leaked.
- `setPermits` changes the limit live: growing drains waiters at once; shrinking lets holders finish and
  admits nobody until `inFlight` is below the new limit.
*/

export type Release = () => void;

/** A queued acquire that can be cancelled without an AbortSignal (see `Semaphore.queue`). */
export interface QueuedAcquire {
  /** Resolves to the release once the permit is held; rejects with an AbortError if cancelled first. */
  readonly granted: Promise<Release>;
  /** Leaves the queue and returns true; returns false, changing nothing, once the permit was granted. */
  cancel(): boolean;
}

export interface AcquireOptions {
  /** Aborting leaves the queue and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Gives up waiting after this many milliseconds with a TimeoutError. */
  readonly timeoutMs?: number;
}

interface Waiter extends Settleable {
  /** Lean waiters (Semaphore.run) are resolved with no release closure. */
  lean: boolean;
  promise: Promise<Release | undefined>;
  resolve: (release: Release | undefined) => void;
  reject: (reason: unknown) => void;
}

const refuseCancel = () => false;

export class Semaphore {
  #permits: number;
  #inFlight = 0;
  #peakInFlight = 0;
  readonly #queue = new WaiterList<Waiter>();

  constructor(permits: number) {
    this.#permits = assertInteger('permits', permits, { allowInfinity: true });
  }

  get permits(): number {
    return this.#permits;
  }

  get available(): number {
    return Math.max(0, this.#permits - this.#inFlight);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get waiting(): number {
    return this.#queue.size;
  }

  get peakInFlight(): number {
    return this.#peakInFlight;
  }

  /** Changes the limit at run time. Growing wakes waiters at once; shrinking applies as permits return. */
  setPermits(permits: number): void {
    this.#permits = assertInteger('permits', permits, { allowInfinity: true });
    this.#drain();
  }

  /** Takes a permit now if one is free and nobody waits; otherwise undefined. */
  tryAcquire(): Release | undefined {
    if (!this.#canTakeNow()) return undefined;
    this.#take();
    return this.#makeRelease();
  }

  /** Resolves to a release function once a permit is held. Calling the release twice releases once. */
  acquire(options?: AcquireOptions): Promise<Release> {
    const { signal, timeoutMs, refused } = admission(options);
    if (refused) return refused;
    if (this.#canTakeNow()) {
      this.#take();
      return Promise.resolve(this.#makeRelease());
    }
    const granted = this.#enqueue(false, signal, timeoutMs) as Promise<Release>;
    if (!signal) return granted;
    // Granted, then aborted before the caller resumed: hand the permit on rather than keep it.
    return granted.then((release) => {
      if (!signal.aborted) return release;
      release();
      throw signal.reason;
    });
  }

  /**
   * Queues for a permit like `acquire()` and returns a handle whose `cancel()` leaves the queue. For callers
   * that wait on every pull, as the bounded scheduler does: no AbortController or listener per wait.
   */
  queue(): QueuedAcquire {
    if (this.#canTakeNow()) {
      this.#take();
      return { granted: Promise.resolve(this.#makeRelease()), cancel: refuseCancel };
    }
    const waiter = this.#newWaiter(false);
    return {
      granted: waiter.promise as Promise<Release>,
      cancel: () => this.#cancel(waiter, new AbortError('The queued acquire was cancelled')),
    };
  }

  /** Runs `fn` holding one permit and always releases it (`async with semaphore:`). */
  run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>> {
    if (typeof fn !== 'function') return Promise.reject(new InvalidArgumentError('fn', fn, 'a function'));
    const { signal, timeoutMs, refused } = admission(options);
    if (refused) return refused;
    if (this.#canTakeNow()) {
      // Fast path: no waiter, no release closure, fn called at once in the caller's own context.
      this.#take();
      return this.#callHolding(fn);
    }
    // Queued: the permit is granted by a release elsewhere, but `fn` runs in a reaction registered here,
    // so it keeps the caller's async context (AsyncLocalStorage) rather than the releaser's. Every queued
    // run takes the same number of hops from grant to `fn`, so calls start in the order they were admitted.
    return this.#enqueue(true, signal, timeoutMs).then(() => {
      if (signal?.aborted) {
        this.#release(); // granted, then aborted before it resumed: pass the permit on
        throw signal.reason;
      }
      return this.#callHolding(fn);
    });
  }

  // Called with a permit held; gives it back when fn settles, whatever the outcome.
  #callHolding<T>(fn: () => T | PromiseLike<T>): Promise<Awaited<T>> {
    let result: T | PromiseLike<T>;
    try {
      result = fn();
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(this.#releaseWith, this.#releaseAndThrow) as Promise<Awaited<T>>;
  }

  #releaseWith = <T>(value: T): T => {
    this.#release();
    return value;
  };

  #releaseAndThrow = (error: unknown): never => {
    this.#release();
    throw error;
  };

  // A permit is free only while nobody waits (see the notes at the top): taking it overtakes no one.
  #canTakeNow(): boolean {
    return this.#inFlight < this.#permits;
  }

  #take(): void {
    this.#peakInFlight = Math.max(this.#peakInFlight, ++this.#inFlight);
  }

  #makeRelease(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release();
    };
  }

  #release(): void {
    this.#inFlight--;
    this.#drain();
  }

  // Lean waiters (run) are granted with no release closure: run releases through #release itself.
  #enqueue(
    lean: boolean,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ): Promise<Release | undefined> {
    const waiter = this.#newWaiter(lean);
    if (!signal && timeoutMs === undefined) return waiter.promise;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => this.#cancel(waiter, new TimeoutError(timeoutMs, 'acquire')), timeoutMs);
    const stopListening = onAbort(signal, () => this.#cancel(waiter, signal!.reason));
    waiter.cleanup = () => {
      clearTimeout(timer);
      stopListening?.();
    };
    return waiter.promise;
  }

  #newWaiter(lean: boolean): Waiter {
    let resolve!: Waiter['resolve'];
    let reject!: Waiter['reject'];
    const promise = new Promise<Release | undefined>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter: Waiter = { live: true, lean, promise, resolve, reject, cleanup: undefined };
    this.#queue.push(waiter);
    return waiter;
  }

  /** Takes a waiter out of line and rejects it; false, changing nothing, if it was already granted. */
  #cancel(waiter: Waiter, reason: unknown): boolean {
    if (!this.#queue.cancel(waiter)) return false;
    waiter.reject(reason);
    return true;
  }

  #drain(): void {
    while (this.#inFlight < this.#permits) {
      const waiter = this.#queue.take();
      if (!waiter) return;
      this.#take();
      waiter.resolve(waiter.lean ? undefined : this.#makeRelease());
    }
  }
}

// Validates the options before any state is touched. A bad option, or a signal already aborted, comes back
// as the rejected promise the caller returns, so neither acquire() nor run() ever throws synchronously.
function admission(options: AcquireOptions | undefined): AcquireOptions & { refused?: Promise<never> } {
  if (options === undefined) return {};
  const { signal, timeoutMs } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    return { refused: Promise.reject(new InvalidArgumentError('signal', signal, 'an AbortSignal')) };
  }
  // Number.isFinite is false for anything not a number, a string of digits included.
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
    return {
      refused: Promise.reject(new InvalidArgumentError('timeoutMs', timeoutMs, 'a finite number >= 0')),
    };
  }
  if (signal?.aborted) return { refused: Promise.reject(signal.reason) };
  return { signal, timeoutMs };
}
