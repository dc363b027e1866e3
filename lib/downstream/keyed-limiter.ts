// Hand-written, part of the product: one limiter for a global cap and a cap per key (per partner host).
import { AsyncResource } from 'node:async_hooks';
import { assertInteger, InvalidArgumentError } from '../errors.js';
import type { Release } from '../semaphore.js';
import type { Clock } from './clock.js';
import { KeyHeap } from './key-heap.js';
import { KeyState, type Waiter } from './key-state.js';
import { type KeyedLimiterOptions, resolveKeyedLimiterOptions } from './keyed-limiter-options.js';
import { appendWaiter, removeWaiter } from './waiter-list.js';

export type { KeyedLimiterOptions } from './keyed-limiter-options.js';

/*
How it works:
- A task starts only when both the global count and its key's count are below their limits. Counts are
  raised synchronously at admission, so no interleaving can exceed either.
- Each key has its own FIFO of waiters. A waiter never holds a global permit while its key is full, so a
  busy key cannot block the others (no head-of-line blocking).
- Keys that could start a task now (waiters, room under their own limit, not held back by the gate) sit
  in a heap ordered by their oldest waiter's arrival. When a global permit frees, the oldest admissible
  waiter across keys goes next. At rest the heap is empty unless the global limit is full, so a newcomer
  that finds room never overtakes anybody (no barging).
- An optional gate (a rate limiter, a Retry-After pause) is asked just before a key's task would start: 0
  lets it start (the gate takes its token then), more holds the whole key back that many ms on a timer,
  with no permit held and other keys unaffected.
- A key with nothing running and nobody waiting is deleted, so a million keys cost nothing once quiet.
  Its limit comes back from `perKey(key)` the next time it is used (AdaptiveLimit keeps what it learned).
*/

export interface KeyStats {
  readonly limit: number;
  readonly inFlight: number;
  readonly waiting: number;
}

export class KeyedLimiter<I = string> {
  #global: number;
  readonly #perKey: (key: string) => number;
  readonly #keyOf: (input: I) => string;
  readonly #gate: ((key: string) => number) | undefined;
  readonly #clock: Clock;
  readonly #keys = new Map<string, KeyState>();
  readonly #ready = new KeyHeap<KeyState>();
  #inFlight = 0;
  #waiting = 0;
  #peakInFlight = 0;
  #seq = 0;

  constructor(options: KeyedLimiterOptions<I>) {
    const o = resolveKeyedLimiterOptions(options);
    this.#global = o.global;
    this.#perKey = o.perKey;
    this.#keyOf = o.keyOf;
    this.#gate = o.gate;
    this.#clock = o.clock;
  }

  get global(): number {
    return this.#global;
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
  /** Keys with a task running or waiting; idle keys are forgotten. */
  get activeKeys(): number {
    return this.#keys.size;
  }

  /** The live counts of a key, or undefined when it is idle (forgotten). */
  stats(input: I): KeyStats | undefined {
    const state = this.#keys.get(this.#keyOf(input));
    return state && { limit: state.limit, inFlight: state.inFlight, waiting: state.waiting };
  }

  /** Changes the global limit live: growing admits waiters at once, shrinking applies as tasks finish. */
  setGlobal(limit: number): void {
    this.#global = assertInteger('global', limit, { allowInfinity: true });
    this.#pump();
  }

  /**
   * Changes one active key's limit live (AdaptiveLimit drives this). An idle key has no state to change:
   * its limit is read from `perKey` when it next becomes active.
   */
  setLimit(input: I, limit: number): void {
    assertInteger('limit', limit, { allowInfinity: true });
    const state = this.#keys.get(this.#keyOf(input));
    if (!state) return;
    state.limit = limit;
    this.#sync(state);
    this.#pump();
  }

  /** Runs `fn` once both permits are held and always gives them back; a synchronous throw rejects. */
  run<T>(input: I, fn: () => T | PromiseLike<T>, { signal }: { signal?: AbortSignal } = {}): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(new InvalidArgumentError('fn', fn, 'a function'));
    return this.#wait(input, signal, (release, resolve, reject) => {
      let result: T | PromiseLike<T>;
      try {
        result = fn();
      } catch (error) {
        release();
        reject(error);
        return;
      }
      Promise.resolve(result).then(
        (value) => {
          release();
          resolve(value);
        },
        (error: unknown) => {
          release();
          reject(error);
        },
      );
    });
  }

  /** Resolves to a release function once both permits are held (calling it twice releases once). */
  acquire(input: I, { signal }: { signal?: AbortSignal } = {}): Promise<Release> {
    return this.#wait<Release>(input, signal, (release, resolve) => resolve(release));
  }

  /**
   * The callback form, for callers with no promise to spare (the undici interceptor): `onAdmit` runs once
   * both permits are held, synchronously when there is room. Returns a cancel function that removes the
   * waiter and returns true, or returns false when it was already admitted.
   */
  schedule(input: I, onAdmit: (release: Release) => void): () => boolean {
    const key = this.#keyOf(input);
    let state = this.#keys.get(key);
    if (!state) {
      state = new KeyState(key, this.#perKey(key));
      this.#keys.set(key, state);
    }
    const waiter: Waiter = { seq: this.#seq++, onAdmit, prev: undefined, next: undefined, queued: false };
    // The ready heap is empty at rest unless the global limit is full; it is checked for a task started
    // from inside another's admission, which must not overtake the older waiters still being pumped.
    const canStart =
      state.waiting === 0 &&
      state.timer === undefined &&
      state.inFlight < state.limit &&
      this.#inFlight < this.#global &&
      this.#ready.size === 0;
    const holdMs = canStart && this.#gate ? this.#gate(key) : 0;
    if (canStart && holdMs <= 0) {
      this.#admit(state, waiter);
    } else {
      this.#enqueue(state, waiter);
      if (holdMs > 0) this.#hold(state, holdMs);
      else this.#sync(state);
    }
    return () => this.#cancel(state, waiter);
  }

  #wait<T>(
    input: I,
    signal: AbortSignal | undefined,
    start: (release: Release, resolve: (value: T) => void, reject: (reason: unknown) => void) => void,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      let admitted = false;
      let resource: AsyncResource | undefined;
      let cancel: () => boolean = () => false;
      const onAbort = () => {
        if (cancel()) reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        cancel = this.schedule(input, (release) => {
          admitted = true;
          signal?.removeEventListener('abort', onAbort);
          // A queued task runs in its caller's async context (AsyncLocalStorage), not the releaser's.
          if (resource) resource.runInAsyncScope(start, null, release, resolve, reject);
          else start(release, resolve, reject);
        });
      } catch (error) {
        signal?.removeEventListener('abort', onAbort);
        reject(error);
        return;
      }
      if (!admitted) resource = new AsyncResource('KeyedLimiter');
    });
  }

  #admit(state: KeyState, waiter: Waiter): void {
    state.inFlight++;
    this.#inFlight++;
    if (this.#inFlight > this.#peakInFlight) this.#peakInFlight = this.#inFlight;
    // The counts and the heap are settled before user code runs: onAdmit may call back into the limiter.
    this.#sync(state);
    let released = false;
    waiter.onAdmit(() => {
      if (released) return;
      released = true;
      this.#release(state);
    });
  }

  #release(state: KeyState): void {
    state.inFlight--;
    this.#inFlight--;
    this.#sync(state);
    this.#pump();
    this.#forgetIfIdle(state);
  }

  /** Starts the oldest admissible waiters while the global limit has room. */
  #pump(): void {
    while (this.#inFlight < this.#global) {
      const state = this.#ready.peek();
      if (!state) return;
      const holdMs = this.#gate ? this.#gate(state.key) : 0;
      if (holdMs > 0) {
        this.#hold(state, holdMs);
        continue;
      }
      this.#admit(state, this.#dequeue(state, state.head!));
    }
  }

  #hold(state: KeyState, ms: number): void {
    if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
    state.timer = this.#clock.setTimeout(() => {
      state.timer = undefined;
      this.#sync(state);
      this.#pump();
    }, ms);
    this.#sync(state);
  }

  /** Puts the key in the ready heap exactly when it could start a task now, at its oldest waiter's place. */
  #sync(state: KeyState): void {
    const ready = state.waiting > 0 && state.timer === undefined && state.inFlight < state.limit;
    const inHeap = state.heapIndex >= 0;
    if (ready && inHeap) this.#ready.update(state);
    else if (ready) this.#ready.push(state);
    else if (inHeap) this.#ready.remove(state);
  }

  #cancel(state: KeyState, waiter: Waiter): boolean {
    if (!waiter.queued) return false;
    const wasHead = state.head === waiter;
    this.#dequeue(state, waiter);
    if (state.waiting === 0 && state.timer !== undefined) {
      this.#clock.clearTimeout(state.timer);
      state.timer = undefined;
    }
    if (wasHead) this.#sync(state);
    this.#forgetIfIdle(state);
    return true;
  }

  #enqueue(state: KeyState, waiter: Waiter): void {
    appendWaiter(state, waiter);
    state.waiting++;
    this.#waiting++;
  }

  #dequeue(state: KeyState, waiter: Waiter): Waiter {
    removeWaiter(state, waiter);
    state.waiting--;
    this.#waiting--;
    return waiter;
  }

  #forgetIfIdle(state: KeyState): void {
    if (state.inFlight === 0 && state.waiting === 0 && state.timer === undefined) {
      if (this.#keys.get(state.key) === state) this.#keys.delete(state.key);
    }
  }
}
