// Hand-written, part of the product: a request rate per key (per partner host), as a token bucket.
import { InvalidArgumentError } from '../errors.js';
import { assertClock, type Clock, systemClock, type TimerHandle, unrefTimer } from './clock.js';
import { appendWaiter, type ListedWaiter, removeWaiter, type WaiterList } from './waiter-list.js';

/*
How it works:
- Each key has a bucket holding up to `burst` tokens, starting full, refilled continuously at `perSecond`.
  A request takes one token. Over any window of t seconds at most `perSecond * t + burst` are granted:
  the bucket holds at most `burst` at the window's start and gains `perSecond * t` during it.
- Refill is computed from the clock when a bucket is touched, never by a ticking timer. A waiter queues
  FIFO per key and one timer per key fires when the head's token is due; the callback re-checks the
  bucket, so a timer firing early or late never grants early.
- A bucket that is full with nobody waiting is indistinguishable from a new one, so a sweep deletes it:
  keys cost nothing once quiet. The sweep timer is unref'd and stops when no bucket is left.
- `take(key)` is the non-blocking form for KeyedLimiter's gate: it takes a token and returns 0, or returns
  the milliseconds until one is due. Use one form per key: `take` does not queue behind `acquire` waiters
  (it only refuses while they wait).
*/

export interface RateLimiterOptions {
  /** Tokens added per second: a number > 0 (fractions allowed) or Infinity (no limit), or a function of the key. */
  readonly perSecond: number | ((key: string) => number);
  /** Bucket size, the most granted at once after a quiet spell: an integer >= 1, or a function of the key. Default max(1, ceil(perSecond)). */
  readonly burst?: number | ((key: string) => number);
  readonly clock?: Clock;
  /** How often full idle buckets are deleted. Default 1000 ms. */
  readonly sweepMs?: number;
}

interface Waiter extends ListedWaiter<Waiter> {
  readonly resolve: () => void;
}

interface Bucket extends WaiterList<Waiter> {
  readonly key: string;
  perMs: number;
  burst: number;
  tokens: number;
  stamp: number;
  timer: TimerHandle | undefined;
}

/** Tokens below 1 by less than this count as 1: float error must not delay a grant by a whole timer tick. */
const EPSILON = 1e-9;

export class RateLimiter {
  readonly #rateOf: (key: string) => number;
  readonly #burstOf: (key: string, perSecond: number) => number;
  readonly #clock: Clock;
  readonly #sweepMs: number;
  readonly #buckets = new Map<string, Bucket>();
  #sweepTimer: TimerHandle | undefined;

  constructor(options: RateLimiterOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', options, 'an object like { perSecond: 10, burst: 5 }');
    }
    const { perSecond, burst, clock = systemClock, sweepMs = 1_000 } = options;
    this.#rateOf =
      typeof perSecond === 'function'
        ? (key) => checkRate(`perSecond(${JSON.stringify(key)})`, perSecond(key))
        : constant(checkRate('perSecond', perSecond));
    if (burst === undefined) {
      this.#burstOf = (_key, rate) => Math.max(1, Math.ceil(rate));
    } else if (typeof burst === 'function') {
      this.#burstOf = (key) => checkBurst(`burst(${JSON.stringify(key)})`, burst(key));
    } else {
      const size = checkBurst('burst', burst);
      this.#burstOf = () => size;
    }
    this.#clock = assertClock(clock);
    if (typeof sweepMs !== 'number' || !(sweepMs > 0) || !Number.isFinite(sweepMs)) {
      throw new InvalidArgumentError('sweepMs', sweepMs, 'a finite number > 0');
    }
    this.#sweepMs = sweepMs;
  }

  /** Keys with a bucket that is not yet full again, or with waiters. */
  get activeKeys(): number {
    return this.#buckets.size;
  }

  /** Tokens a key has now (its burst when it has no bucket). */
  tokens(key: string): number {
    const bucket = this.#buckets.get(key);
    if (!bucket) return this.#burstOf(key, this.#rateOf(key));
    this.#refill(bucket);
    return bucket.tokens;
  }

  /**
   * Re-reads a key's rate and burst now (a run's override changed them): the tokens earned so far are kept
   * up to the new burst, and from here on the bucket refills at the new rate; queued waiters are served at it.
   */
  refresh(key: string): void {
    const bucket = this.#buckets.get(key);
    if (!bucket) return;
    this.#refill(bucket);
    const perSecond = this.#rateOf(key);
    // An unlimited rate needs no bucket: one with waiters keeps a very fast refill until they are served.
    bucket.perMs = perSecond === Number.POSITIVE_INFINITY ? Number.MAX_VALUE : perSecond / 1000;
    bucket.burst = perSecond === Number.POSITIVE_INFINITY ? bucket.burst : this.#burstOf(key, perSecond);
    bucket.tokens = Math.min(bucket.tokens, bucket.burst);
    // The waiters' timer was armed at the old rate: re-arm it for when the head's token is due at the new one.
    if (bucket.timer !== undefined) {
      this.#clock.clearTimeout(bucket.timer);
      this.#arm(bucket);
    }
  }

  /** Takes a token and returns 0, or returns the milliseconds until one is due (nothing taken). */
  take(key: string): number {
    const bucket = this.#bucket(key);
    if (!bucket) return 0;
    this.#refill(bucket);
    if (bucket.head === undefined && bucket.tokens >= 1 - EPSILON) {
      bucket.tokens -= 1;
      return 0;
    }
    return this.#dueIn(bucket);
  }

  /** Takes a token without waiting; false when none is free. */
  tryAcquire(key: string): boolean {
    return this.take(key) === 0;
  }

  /** Resolves when the key's token is granted, FIFO per key. Aborting leaves the queue and rejects with the reason. */
  acquire(key: string, { signal }: { signal?: AbortSignal } = {}): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let bucket: Bucket | undefined;
    try {
      bucket = this.#bucket(key);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!bucket) return Promise.resolve();
    this.#refill(bucket);
    if (bucket.head === undefined && bucket.tokens >= 1 - EPSILON) {
      bucket.tokens -= 1;
      return Promise.resolve();
    }
    const queued = bucket;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        if (!waiter.queued) return;
        removeWaiter(queued, waiter);
        if (queued.head === undefined && queued.timer !== undefined) {
          this.#clock.clearTimeout(queued.timer);
          queued.timer = undefined;
        }
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        prev: undefined,
        next: undefined,
        queued: false,
      };
      appendWaiter(queued, waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (queued.timer === undefined) this.#arm(queued);
    });
  }

  /** Deletes every bucket that is full with nobody waiting. Runs on its own timer; exposed for tests. */
  sweep(): void {
    for (const bucket of this.#buckets.values()) {
      if (bucket.head !== undefined) continue;
      this.#refill(bucket);
      if (bucket.tokens >= bucket.burst) this.#buckets.delete(bucket.key);
    }
  }

  #bucket(key: string): Bucket | undefined {
    let bucket = this.#buckets.get(key);
    if (bucket) return bucket;
    const perSecond = this.#rateOf(key);
    if (perSecond === Number.POSITIVE_INFINITY) return undefined;
    const burst = this.#burstOf(key, perSecond);
    bucket = {
      key,
      perMs: perSecond / 1000,
      burst,
      tokens: burst,
      stamp: this.#clock.now(),
      head: undefined,
      tail: undefined,
      timer: undefined,
    };
    this.#buckets.set(key, bucket);
    if (this.#sweepTimer === undefined) this.#armSweep();
    return bucket;
  }

  #refill(bucket: Bucket): void {
    const now = this.#clock.now();
    if (now > bucket.stamp) {
      bucket.tokens = Math.min(bucket.burst, bucket.tokens + (now - bucket.stamp) * bucket.perMs);
      bucket.stamp = now;
    }
  }

  /**
   * Whole ms until the bucket reaches the token that take and #grant accept (1 - EPSILON). Aiming at exactly
   * 1 let float error round a wait up a whole ms past its token (0.39999999999999997 tokens at 0.02 a ms:
   * 30.000000000000004 -> 31), holding a key that has a token. The margin EPSILON / perMs dwarfs that error.
   */
  #dueIn(bucket: Bucket): number {
    return Math.max(1, Math.ceil((1 - EPSILON - bucket.tokens) / bucket.perMs));
  }

  #arm(bucket: Bucket): void {
    bucket.timer = this.#clock.setTimeout(() => {
      bucket.timer = undefined;
      this.#grant(bucket);
    }, this.#dueIn(bucket));
  }

  #grant(bucket: Bucket): void {
    this.#refill(bucket);
    while (bucket.head !== undefined && bucket.tokens >= 1 - EPSILON) {
      bucket.tokens -= 1;
      const waiter = bucket.head;
      removeWaiter(bucket, waiter);
      waiter.resolve();
    }
    if (bucket.head !== undefined) this.#arm(bucket);
  }

  #armSweep(): void {
    this.#sweepTimer = this.#clock.setTimeout(() => {
      this.#sweepTimer = undefined;
      this.sweep();
      if (this.#buckets.size > 0) this.#armSweep();
    }, this.#sweepMs);
    unrefTimer(this.#sweepTimer);
  }
}

function constant(value: number): () => number {
  return () => value;
}

function checkRate(option: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0)) {
    throw new InvalidArgumentError(option, value, 'a number > 0 (requests per second) or Infinity');
  }
  return value;
}

function checkBurst(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(option, value, 'an integer >= 1');
  }
  return value;
}
