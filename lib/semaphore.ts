import { AbortError, assertInteger, InvalidArgumentError, TimeoutError } from './errors.js';
import { Fifo } from './fifo.js';

/*
How it works (asyncio.Semaphore, FIFO with no barging):
- `#inFlight` counts held permits. It is raised synchronously, before any await, so no interleaving can
  admit more than `permits` holders.
- A caller that cannot take a permit at once queues a waiter. A newcomer takes the fast path only when
  nobody waits, so it never overtakes a waiter (no barging).
- Releasing hands the permit straight to the oldest live waiter (`#drain`). Aborted or timed-out waiters
  are marked dead and skipped lazily; they never hold a permit.
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

const WAITING = 0;
const GRANTED = 1;
const CANCELLED = 2;

interface Waiter {
  state: number;
  /** Lean waiters (Semaphore.run without options) are resolved with no release closure. */
  lean: boolean;
  promise: Promise<Release | undefined>;
  resolve: (release: Release | undefined) => void;
  reject: (reason: unknown) => void;
  cleanup: (() => void) | undefined;
}

const refuseCancel = () => false;

/** Above this many dead waiters (and more dead than live), the queue is compacted. */
const COMPACT_AT = 1024;

export class Semaphore {
  #permits: number;
  #inFlight = 0;
  #peakInFlight = 0;
  #waiting = 0;
  #dead = 0;
  #queue = new Fifo<Waiter>();

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
    return this.#waiting;
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

  #canTakeNow(): boolean {
    return this.#inFlight < this.#permits && this.#waiting === 0;
  }

  #take(): void {
    if (++this.#inFlight > this.#peakInFlight) this.#peakInFlight = this.#inFlight;
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
    const onAbort = () => this.#cancel(waiter, signal!.reason);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => this.#cancel(waiter, new TimeoutError(timeoutMs, 'acquire')), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    waiter.cleanup = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
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
    const waiter: Waiter = { state: WAITING, lean, promise, resolve, reject, cleanup: undefined };
    this.#queue.push(waiter);
    this.#waiting++;
    return waiter;
  }

  /** Takes a waiter out of line (lazily: it stays in the queue, marked dead); false if already granted. */
  #cancel(waiter: Waiter, reason: unknown): boolean {
    if (waiter.state !== WAITING) return false;
    waiter.state = CANCELLED;
    waiter.cleanup?.();
    this.#waiting--;
    this.#dead++;
    waiter.reject(reason);
    this.#compactIfNeeded();
    return true;
  }

  #drain(): void {
    while (this.#inFlight < this.#permits) {
      const waiter = this.#queue.shift();
      if (!waiter) return;
      if (waiter.state !== WAITING) {
        this.#dead--;
        continue;
      }
      waiter.state = GRANTED;
      waiter.cleanup?.();
      this.#waiting--;
      this.#take();
      waiter.resolve(waiter.lean ? undefined : this.#makeRelease());
    }
  }

  #compactIfNeeded(): void {
    if (this.#dead < COMPACT_AT || this.#dead < this.#waiting) return;
    const live = new Fifo<Waiter>();
    for (const waiter of this.#queue) if (waiter.state === WAITING) live.push(waiter);
    this.#queue = live;
    this.#dead = 0;
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
  if (
    timeoutMs !== undefined &&
    !(typeof timeoutMs === 'number' && timeoutMs >= 0 && Number.isFinite(timeoutMs))
  ) {
    return {
      refused: Promise.reject(new InvalidArgumentError('timeoutMs', timeoutMs, 'a finite number >= 0')),
    };
  }
  if (signal?.aborted) return { refused: Promise.reject(signal.reason) };
  return { signal, timeoutMs };
}
