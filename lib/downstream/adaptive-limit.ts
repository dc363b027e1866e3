// Hand-written, part of the product: a concurrency limit per key that finds the partner's capacity by
// itself and backs off when the partner says it is overloaded (429, 503), times out, or slows down.
import { InvalidArgumentError } from '../errors.js';
import { type AdaptiveLimitOptions, resolveAdaptiveOptions } from './adaptive-options.js';
import type { Clock } from './clock.js';

export type { AdaptiveLimitOptions } from './adaptive-options.js';

/*
How it works (AIMD, as TCP's congestion window, applied to concurrent requests):
- Slow start: from `initial`, every success adds 1 (the limit doubles per round trip) until the first
  overload; then that limit is halved and the key moves to congestion avoidance.
- Congestion avoidance: a window of successes (as many as the limit) adds 1; an overload multiplies the
  limit by `decrease` (at least -1), never below `floor` nor above `ceiling`.
- One cut per round trip: an overload from a request sent before the last cut says nothing new (it was
  sent under the old limit), so it does not cut again. A burst of 429s costs one step, not ten.
- Probing gently: the limit at which the key was last overloaded is remembered. Within one step of it, the
  next +1 waits for `probeAfter` successes, so a steady partner sees about one rejected probe per
  `probeAfter` requests (a third of a percent by default) while the limit sits at its capacity. Past that point (the
  partner grew) the normal pace resumes.
- Latency: a fast average of recent successful latencies is compared with a baseline that follows the
  fastest answers. Recent above `latencyFactor` times the baseline is overload even without a 429 (once
  per round trip); above half-way there, requests are queueing somewhere (at the partner, or in this
  process when it is the bottleneck), so the limit holds instead of growing: more requests in flight
  would only wait longer, and the partner would get them in a burst once the queue cleared.
- Retry-After on a 429 or 503 pauses the key (capped at `maxPauseMs`): `pausedFor(key)` is read by the
  KeyedLimiter's gate, which starts nothing for that key until the pause ends.
- A success counts towards an increase only when at least half the limit was in use, so a quiet key's
  limit does not climb to the ceiling and then burst.
- At most `maxKeys` keys are remembered (least recently observed forgotten first); a forgotten key starts
  over from `initial`.
*/

/** One finished attempt, as the adaptive limit sees it. */
export interface AdaptiveOutcome {
  /** HTTP status, when a response came. */
  readonly status?: number;
  /** From sending the request to its response (or failure). */
  readonly latencyMs: number;
  readonly timedOut?: boolean;
  /** The server's Retry-After, in ms. */
  readonly retryAfterMs?: number;
  /** Attempts to this key in flight when this one ended, itself included. */
  readonly inFlight?: number;
}

export const AdaptiveVerdicts = { INCREASE: 'increase', DECREASE: 'decrease', HOLD: 'hold' } as const;
export type AdaptiveVerdict = (typeof AdaptiveVerdicts)[keyof typeof AdaptiveVerdicts];

export interface AdaptiveStats {
  readonly limit: number;
  readonly slowStart: boolean;
  readonly baselineMs: number | undefined;
  readonly pausedForMs: number;
}

interface KeyState {
  limit: number;
  slowStart: boolean;
  successes: number;
  /** The limit at the last overload; Infinity when none or when the key has since grown past it. */
  overloadedAt: number;
  lastCutAt: number;
  samples: number;
  baseline: number;
  recent: number;
  pausedUntil: number;
}

const BASELINE_CREEP = 0.01;
const RECENT_ALPHA = 0.3;
const LATENCY_OK = 0;
const LATENCY_QUEUEING = 1;
const LATENCY_SLOW = 2;
type Latency = typeof LATENCY_OK | typeof LATENCY_QUEUEING | typeof LATENCY_SLOW;

export class AdaptiveLimit {
  readonly #floor: number;
  readonly #ceiling: number;
  readonly #initial: number;
  readonly #decrease: number;
  readonly #probeAfter: number;
  readonly #latencyFactor: number;
  readonly #minSamples: number;
  readonly #overload: ReadonlySet<number>;
  readonly #maxPauseMs: number;
  readonly #maxKeys: number;
  readonly #clock: Clock;
  readonly #onChange: ((key: string, limit: number) => void) | undefined;
  readonly #keys = new Map<string, KeyState>();

  constructor(options: AdaptiveLimitOptions) {
    const o = resolveAdaptiveOptions(options);
    this.#floor = o.floor;
    this.#ceiling = o.ceiling;
    this.#initial = o.initial;
    this.#decrease = o.decrease;
    this.#probeAfter = o.probeAfter;
    this.#latencyFactor = o.latencyFactor;
    this.#minSamples = o.minSamples;
    this.#overload = o.overload;
    this.#maxPauseMs = o.maxPauseMs;
    this.#maxKeys = o.maxKeys;
    this.#clock = o.clock;
    this.#onChange = o.onChange;
  }

  get ceiling(): number {
    return this.#ceiling;
  }
  get floor(): number {
    return this.#floor;
  }
  /** Keys remembered now (at most maxKeys). */
  get size(): number {
    return this.#keys.size;
  }

  /** The key's current limit (`initial` for a key never observed or forgotten). */
  limitOf(key: string): number {
    return this.#keys.get(key)?.limit ?? this.#initial;
  }

  /** Milliseconds left in the key's Retry-After pause; 0 when it may send. */
  pausedFor(key: string): number {
    const state = this.#keys.get(key);
    return state ? Math.max(0, state.pausedUntil - this.#clock.now()) : 0;
  }

  stats(key: string): AdaptiveStats {
    const state = this.#keys.get(key);
    return {
      limit: state?.limit ?? this.#initial,
      slowStart: state?.slowStart ?? true,
      baselineMs: state && state.samples > 0 ? state.baseline : undefined,
      pausedForMs: this.pausedFor(key),
    };
  }

  /** Holds the key back for `ms` (capped at maxPauseMs); a longer pause already set is kept. */
  pause(key: string, ms: number): void {
    if (typeof ms !== 'number' || !(ms >= 0)) throw new InvalidArgumentError('ms', ms, 'a number >= 0');
    const state = this.#state(key);
    state.pausedUntil = Math.max(state.pausedUntil, this.#clock.now() + Math.min(ms, this.#maxPauseMs));
  }

  /** Feeds one finished attempt in; returns what it did to the key's limit. */
  observe(key: string, outcome: AdaptiveOutcome): AdaptiveVerdict {
    const { status, latencyMs, timedOut = false, retryAfterMs, inFlight } = outcome;
    if (typeof latencyMs !== 'number' || !(latencyMs >= 0)) {
      throw new InvalidArgumentError('outcome.latencyMs', latencyMs, 'a number >= 0');
    }
    const state = this.#state(key);
    const now = this.#clock.now();
    const overloadStatus = status !== undefined && this.#overload.has(status);
    if (overloadStatus && retryAfterMs !== undefined && retryAfterMs > 0) this.pause(key, retryAfterMs);
    // Sent before the last cut: it reports on the old limit, which was already cut.
    const stale = now - latencyMs < state.lastCutAt;
    if (overloadStatus || timedOut) return stale ? AdaptiveVerdicts.HOLD : this.#cut(key, state, now);
    if (status === undefined || status >= 500) return AdaptiveVerdicts.HOLD;
    const latency = this.#latency(state, latencyMs);
    if (latency === LATENCY_SLOW && !stale) {
      state.recent = state.baseline;
      return this.#cut(key, state, now);
    }
    if (latency !== LATENCY_OK) return AdaptiveVerdicts.HOLD;
    if (inFlight !== undefined && inFlight * 2 < state.limit) return AdaptiveVerdicts.HOLD;
    return this.#raise(key, state);
  }

  /**
   * Tracks latency: the baseline follows the fastest answers (a minimum that creeps up slowly, so a partner
   * that got slower for good becomes the new normal), the recent level is a fast average. Queueing anywhere
   * on the path shows as recent well above the baseline.
   */
  #latency(state: KeyState, latencyMs: number): Latency {
    state.samples++;
    if (state.samples === 1) {
      state.baseline = state.recent = latencyMs;
      return LATENCY_OK;
    }
    state.recent += RECENT_ALPHA * (latencyMs - state.recent);
    state.baseline =
      latencyMs < state.baseline ? latencyMs : state.baseline + BASELINE_CREEP * (latencyMs - state.baseline);
    if (state.samples <= this.#minSamples) return LATENCY_OK;
    if (state.recent > this.#latencyFactor * state.baseline) return LATENCY_SLOW;
    // Halfway to a cut: requests queue somewhere, so more of them would not help.
    if (state.recent > ((1 + this.#latencyFactor) / 2) * state.baseline) return LATENCY_QUEUEING;
    return LATENCY_OK;
  }

  #cut(key: string, state: KeyState, now: number): AdaptiveVerdict {
    const from = state.limit;
    const factor = state.slowStart ? 0.5 : this.#decrease;
    state.overloadedAt = from;
    state.slowStart = false;
    state.successes = 0;
    state.lastCutAt = now;
    state.limit = Math.max(this.#floor, Math.min(from - 1, Math.floor(from * factor)));
    if (state.limit === from) return AdaptiveVerdicts.HOLD;
    this.#onChange?.(key, state.limit);
    return AdaptiveVerdicts.DECREASE;
  }

  #raise(key: string, state: KeyState): AdaptiveVerdict {
    if (state.limit >= this.#ceiling) return AdaptiveVerdicts.HOLD;
    if (!state.slowStart) {
      state.successes++;
      const nearOverload = state.limit >= state.overloadedAt - 1;
      if (state.successes < (nearOverload ? this.#probeAfter : state.limit)) return AdaptiveVerdicts.HOLD;
      state.successes = 0;
    }
    state.limit++;
    if (state.limit > state.overloadedAt) state.overloadedAt = Number.POSITIVE_INFINITY;
    this.#onChange?.(key, state.limit);
    return AdaptiveVerdicts.INCREASE;
  }

  #state(key: string): KeyState {
    let state = this.#keys.get(key);
    if (state) {
      // Least recently observed first in the map's order.
      this.#keys.delete(key);
      this.#keys.set(key, state);
      return state;
    }
    state = {
      limit: this.#initial,
      slowStart: true,
      successes: 0,
      overloadedAt: Number.POSITIVE_INFINITY,
      lastCutAt: Number.NEGATIVE_INFINITY,
      samples: 0,
      baseline: 0,
      recent: 0,
      pausedUntil: 0,
    };
    this.#keys.set(key, state);
    if (this.#keys.size > this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
    return state;
  }
}
