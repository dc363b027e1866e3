// Hand-written, part of the product: one `shared: true` host's request rate in one process, drawn from the
// fleet's token bucket in the store (issue 17) instead of a fixed 1/N of the rate. Time is cut in slices of
// the wall clock (1 s); a slice allows `maxRequestsPerSecond x slice` requests across the fleet, and the store
// grants them in blocks (lib/downstream/lease-store.ts RateStore, lib/aws/rate-slices.ts), one write a block.
//
// How it works: `take()` spends a local token of the current slice (no store call), or answers how long to
// wait while a block is asked for in the background. Tokens belong to their slice: when the wall clock moves
// on, what is left is dropped, so no slice's tokens are spent in another. A slice the store says is spent is
// not asked again before the next one. When the store fails (slower than storeTimeoutMs, or an error) the
// process falls back to its static share of the rate (`fallback`, the policy's RateLimiter at 1/N), says so
// through the same events as the lease, and asks the store again after retryMs. Tokens a timed-out call may
// have taken are lost to the fleet for that slice (never spent twice).
//
// The bound: with clocks in agreement, at most a slice's tokens per slice, so at most the rate in the long
// run and two slices' worth at once (the end of one and the start of the next). Clocks `skew` apart widen
// the window a slice is spent in by up to 2 x skew. While some processes have lost the store, each of them
// adds its static share on top (rate + (processes - 1) / processes x rate at most).
import { type Clock, unrefTimer } from './clock.js';
import type { RateStore } from './lease-store.js';
import type { SharedHostEvents } from './shared-host.js';

/** The fleet bucket's slice: a counter per host per slice of this length in the store. */
export const RATE_SLICE_MS = 1_000;
/** Tokens per store write: an eighth of a slice's tokens, at least 1 (as lease blocks are an eighth of the cap). */
export const RATE_BLOCK_DIVISOR = 8;

/** Tokens one slice holds: a slice's worth of the rate, at least 1. */
export function rateSliceTokens(requestsPerSecond: number, sliceMs = RATE_SLICE_MS): number {
  return Math.max(1, Math.ceil((requestsPerSecond * sliceMs) / 1000));
}

/** Tokens taken per store write. */
export function rateBlock(requestsPerSecond: number): number {
  return Math.max(1, Math.ceil(rateSliceTokens(requestsPerSecond) / RATE_BLOCK_DIVISOR));
}

export interface SharedRateOptions extends SharedHostEvents {
  readonly store: RateStore;
  readonly host: string;
  readonly requestsPerSecond: number;
  /** The static share's limiter while the store fails: 0 when a request may go, else ms to wait. */
  readonly fallback: () => number;
  readonly clock: Clock;
  /** Wall-clock epoch ms: slices are numbered by it, so every process agrees on them. */
  readonly wallNow?: () => number;
  readonly sliceMs?: number;
  /** Tokens per store write. Default rateBlock(requestsPerSecond). */
  readonly block?: number;
  /** Default 2 s / 1 s, as the lease. */
  readonly storeTimeoutMs?: number;
  readonly retryMs?: number;
}

/** How long a request waits locally before asking again while a block is on its way. */
const LOCAL_POLL_MS = 10;

export class SharedRate {
  readonly #o: SharedRateOptions;
  readonly #sliceMs: number;
  #limit: number;
  #block: number;
  #slice = Number.NEGATIVE_INFINITY;
  #tokens = 0;
  /** The slice the store said is spent: not asked again. */
  #spent = Number.NEGATIVE_INFINITY;
  #pending = false;
  #fallbackUntil = Number.NEGATIVE_INFINITY;
  #fallback = false;

  constructor(options: SharedRateOptions) {
    this.#o = options;
    this.#sliceMs = options.sliceMs ?? RATE_SLICE_MS;
    this.#limit = rateSliceTokens(options.requestsPerSecond, this.#sliceMs);
    this.#block = options.block ?? rateBlock(options.requestsPerSecond);
  }

  /**
   * A run's override of the host's rate (never above the declared one; the policy checks): from the next
   * block on, every process asks the store with the new slice limit, so the fleet's slices close at it.
   */
  setRate(requestsPerSecond: number): void {
    this.#limit = rateSliceTokens(requestsPerSecond, this.#sliceMs);
    this.#block = this.#o.block ?? rateBlock(requestsPerSecond);
    this.#tokens = Math.min(this.#tokens, this.#block);
  }

  /** Whether the process runs on its static share of the rate now. */
  get fallback(): boolean {
    return this.#fallback;
  }

  /** 0 when a request may go now (its token is spent), else ms until it should ask again. */
  take(): number {
    const wall = (this.#o.wallNow ?? Date.now)();
    const slice = Math.floor(wall / this.#sliceMs);
    if (slice !== this.#slice) {
      this.#slice = slice;
      this.#tokens = 0;
    }
    if (this.#tokens > 0) {
      this.#tokens--;
      return 0;
    }
    const nextSlice = (slice + 1) * this.#sliceMs - wall;
    if (this.#fallback) {
      if (this.#o.clock.now() >= this.#fallbackUntil) this.#ask(slice);
      return this.#o.fallback();
    }
    if (this.#spent === slice) return Math.max(1, nextSlice);
    this.#ask(slice);
    return Math.min(LOCAL_POLL_MS, Math.max(1, nextSlice));
  }

  /** One block of `slice`'s tokens from the store, in the background (one call at a time). */
  #ask(slice: number): void {
    if (this.#pending) return;
    this.#pending = true;
    const timeoutMs = this.#o.storeTimeoutMs ?? 2_000;
    let timedOut = false;
    const timer = this.#o.clock.setTimeout(() => {
      timedOut = true;
      this.#fail(new Error(`rate store: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    unrefTimer(timer);
    const call = this.#o.store.takeTokens({
      host: this.#o.host,
      slice,
      tokens: this.#block,
      limit: this.#limit,
    });
    call.then(
      (granted) => {
        this.#o.clock.clearTimeout(timer);
        this.#pending = false;
        if (this.#fallback) {
          this.#fallback = false;
          this.#o.onRecover?.(this.#o.host);
        }
        // Tokens of a slice that has passed are dropped: each slice's tokens are spent in it or never.
        if (slice === this.#slice) this.#tokens += granted;
        if (granted === 0) this.#spent = slice;
      },
      (error: unknown) => {
        this.#o.clock.clearTimeout(timer);
        this.#pending = false;
        if (!timedOut) this.#fail(error);
      },
    );
  }

  #fail(error: unknown): void {
    this.#fallbackUntil = this.#o.clock.now() + (this.#o.retryMs ?? 1_000);
    if (this.#fallback) return;
    this.#fallback = true;
    this.#o.onFallback?.(this.#o.host, error);
  }
}
