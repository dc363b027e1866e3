import { type PendingPull, pullCancellable } from './cancellable-pull.js';
import { assertInteger, InvalidArgumentError, QueueClosedError } from './errors.js';
import { Fifo } from './fifo.js';
import { checkSignal, onAbort, type Putter, type Waiter, WaiterList } from './queue-waiters.js';

/*
How it works (asyncio.Queue(maxsize)):
- Items wait in `#items`, producers blocked on a full queue in `#putters` (with their item), consumers
  blocked on an empty queue in `#getters`; all three are FIFO.
- Hand-off, not notification: a `put` that finds a waiting consumer gives it the item directly, and a `get`
  that frees a place moves the oldest blocked producer's item in. A woken waiter therefore never has to
  re-check, and a waiter that was cancelled (signal) is simply skipped: the item or the place goes to the
  next live waiter, so a cancellation never swallows a wake-up.
- An item, once handed to a consumer, is delivered even if that consumer's signal aborts in the same tick:
  an item is never lost between a producer and a consumer.
- `close()` refuses new puts, rejects blocked producers and lets consumers drain what is queued, then end.
  `close({ immediate: true })` also drops the queued items (returned to the caller) and ends consumers now.
- The bounded scheduler gets through `[pullCancellable]` (asyncio's getter, which takes nothing if it is
  cancelled before it resumes): the item handed to such a pull stays reserved, counted in `size`, until the
  pull's reaction runs; a pull cancelled in between gives the item back to the head of the queue (or to the
  next waiting consumer). Because a reserved item still takes a place, a pull is only handed an item while
  there is room, so giving it back can never overfill the queue.
*/

export interface WaitOptions {
  readonly signal?: AbortSignal;
}

export interface CloseOptions {
  /** Drop queued items and end consumers at once, instead of letting them drain. */
  readonly immediate?: boolean;
}

const DONE = Symbol('done');
const PULL_WAITING = 0;
const PULL_HANDED = 1;
const PULL_DELIVERED = 2;
const PULL_CANCELLED = 3;
const ignore = () => {};

export class BoundedQueue<T> implements AsyncIterable<T> {
  readonly #maxSize: number;
  readonly #items = new Fifo<T>();
  readonly #putters = new WaiterList<Putter<T>>();
  readonly #getters = new WaiterList<Waiter<T | typeof DONE>>();
  /** Items handed to cancellable pulls whose reaction has not run yet: still in the queue. */
  #reserved = 0;
  #peakSize = 0;
  #closed = false;

  constructor(maxSize: number) {
    this.#maxSize = assertInteger('maxSize', maxSize, { allowInfinity: true });
  }

  get maxSize(): number {
    return this.#maxSize;
  }

  /** Items queued, counting any handed to a cancellable pull that has not resumed yet. */
  get size(): number {
    return this.#items.size + this.#reserved;
  }

  get peakSize(): number {
    return this.#peakSize;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Producers blocked on a full queue. */
  get waitingPut(): number {
    return this.#putters.size;
  }

  /** Consumers blocked on an empty queue. */
  get waitingGet(): number {
    return this.#getters.size;
  }

  /** Adds an item, waiting while the queue is full. Rejects with QueueClosedError after `close()`. */
  put(item: T, options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = checkSignal(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.reject(new QueueClosedError('Cannot put: the queue is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#handToGetter(item)) return Promise.resolve();
    // A producer waits only while the queue is full (each place freed admits one): with room, none is overtaken.
    if (this.#hasRoom()) {
      this.#pushItem(item);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const putter: Putter<T> = { live: true, item, resolve, reject, cleanup: undefined };
      this.#putters.push(putter);
      putter.cleanup = onAbort(signal, () => {
        this.#putters.cancel(putter);
        reject(signal!.reason);
      });
    });
  }

  /** Adds an item now if there is room and nobody waits to put; returns whether it did. */
  tryPut(item: T): boolean {
    if (this.#closed) throw new QueueClosedError('Cannot put: the queue is closed');
    if (this.#handToGetter(item)) return true;
    if (!this.#hasRoom()) return false; // and so nobody waits to put (see put)
    this.#pushItem(item);
    return true;
  }

  /** Takes the oldest item, waiting while the queue is empty. Rejects with QueueClosedError once closed and drained. */
  get(options?: WaitOptions): Promise<T> {
    return this.#next(options).then((value) => {
      if (value === DONE) throw new QueueClosedError('Cannot get: the queue is closed and drained');
      return value;
    });
  }

  /** Refuses further puts. Consumers drain what is queued and then end, unless `immediate`. Returns dropped items. */
  close(options: CloseOptions = {}): T[] {
    const { immediate = false } = options;
    if (typeof immediate !== 'boolean') throw new InvalidArgumentError('immediate', immediate, 'a boolean');
    this.#closed = true;
    for (let p = this.#putters.take(); p; p = this.#putters.take()) {
      p.reject(new QueueClosedError('Cannot put: the queue was closed'));
    }
    const dropped: T[] = [];
    if (immediate) {
      for (const item of this.#items) dropped.push(item);
      this.#items.clear();
    }
    // A consumer waits only while nothing is queued: any waiting now end, and with items left there are none.
    for (let g = this.#getters.take(); g; g = this.#getters.take()) g.resolve(DONE);
    return dropped;
  }

  /** The bounded scheduler's get (see cancellable-pull.ts and the notes at the top). */
  [pullCancellable](deliver: (result: IteratorResult<T, undefined>) => void): PendingPull {
    let state = PULL_WAITING;
    let handed: T | typeof DONE = DONE;
    let getter: Waiter<T | typeof DONE> | undefined;
    let wake!: () => void;
    const arrived = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const hand = (value: T | typeof DONE): void => {
      state = PULL_HANDED;
      handed = value;
      if (value !== DONE) this.#reserve();
      wake();
    };
    if (this.#items.size > 0) {
      hand(this.#items.shift() as T); // from queued to reserved: no place is freed yet
    } else if (this.#closed) {
      hand(DONE);
    } else {
      getter = { live: true, pull: true, resolve: hand, reject: ignore, cleanup: undefined };
      this.#getters.push(getter);
    }
    arrived.then(() => {
      if (state !== PULL_HANDED) return; // cancelled: the item went back at cancel()
      state = PULL_DELIVERED;
      if (handed === DONE) return deliver({ done: true, value: undefined });
      this.#reserved--;
      this.#admitPutter();
      deliver({ done: false, value: handed });
    });
    const cancel = (): boolean => {
      if (state === PULL_DELIVERED) return false;
      if (getter) this.#getters.cancel(getter); // does nothing once the item was handed
      if (state === PULL_HANDED && handed !== DONE) this.#giveBack(handed);
      state = PULL_CANCELLED;
      return true;
    };
    return { cancel };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const value = await this.#next(undefined);
      if (value === DONE) return;
      yield value;
    }
  }

  #next(options: WaitOptions | undefined): Promise<T | typeof DONE> {
    let signal: AbortSignal | undefined;
    try {
      signal = checkSignal(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#items.size > 0) {
      const item = this.#items.shift() as T;
      this.#admitPutter();
      return Promise.resolve(item);
    }
    if (this.#closed) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      const getter: Waiter<T | typeof DONE> = { live: true, resolve, reject, cleanup: undefined };
      this.#getters.push(getter);
      getter.cleanup = onAbort(signal, () => {
        this.#getters.cancel(getter);
        reject(signal!.reason);
      });
    });
  }

  #hasRoom(): boolean {
    return this.#items.size + this.#reserved < this.#maxSize;
  }

  #pushItem(item: T): void {
    this.#items.push(item);
    this.#notePeak();
  }

  #reserve(): void {
    this.#reserved++;
    this.#notePeak();
  }

  #notePeak(): void {
    this.#peakSize = Math.max(this.#peakSize, this.size);
  }

  // A pull at the head of the line with no room left waits (it would reserve a place): the put blocks.
  #handToGetter(item: T): boolean {
    const getter = this.#getters.peek();
    if (getter === undefined || (getter.pull && !this.#hasRoom())) return false;
    this.#getters.take();
    getter.resolve(item);
    return true;
  }

  // A cancelled pull's item was never taken: it goes to the next waiting consumer, or back to the head.
  #giveBack(item: T): void {
    this.#reserved--;
    if (!this.#handToGetter(item)) {
      this.#items.unshift(item);
      return;
    }
    this.#admitPutter();
  }

  // A place was freed: the oldest live blocked producer's item moves in (or on, to a waiting consumer).
  #admitPutter(): void {
    if (!this.#hasRoom()) return;
    const putter = this.#putters.take();
    if (putter === undefined) return;
    if (!this.#handToGetter(putter.item)) this.#pushItem(putter.item);
    putter.resolve();
  }
}
