// The adaptive limit's options, destructured with their defaults and checked before any state is built; an
// error names the option and the value it got.
import { InvalidArgumentError } from '../errors.js';
import { assertClock, type Clock, systemClock } from './clock.js';

export interface AdaptiveLimitOptions {
  /** The highest limit: an integer >= floor. */
  readonly ceiling: number;
  /** The lowest limit: an integer >= 1. Default 1. */
  readonly floor?: number;
  /** Where a new key starts its slow start. Default min(ceiling, max(floor, 4)). */
  readonly initial?: number;
  /** Factor applied to the limit on an overload, in (0, 1). Default 0.9. */
  readonly decrease?: number;
  /** Successes needed to probe past the limit at which the key was last overloaded. Default 300. */
  readonly probeAfter?: number;
  /** Recent latency above this many times the baseline counts as overload; Infinity turns it off. Default 3. */
  readonly latencyFactor?: number;
  /** Successful samples before the latency signal is trusted. Default 20. */
  readonly minSamples?: number;
  /** Statuses that mean "too much": they cut the limit and their Retry-After pauses the key. Default [429, 503]. */
  readonly overloadStatuses?: readonly number[];
  /** Longest Retry-After pause honoured. Default 30,000 ms. */
  readonly maxPauseMs?: number;
  /** Keys remembered at most. Default 10,000. */
  readonly maxKeys?: number;
  readonly clock?: Clock;
  /** Called when a key's limit changes; the downstream policy passes it to KeyedLimiter.setLimit. */
  readonly onChange?: (key: string, limit: number) => void;
}

/** The options with every default filled in and every value checked. */
export interface ResolvedAdaptiveOptions {
  readonly floor: number;
  readonly ceiling: number;
  readonly initial: number;
  readonly decrease: number;
  readonly probeAfter: number;
  readonly latencyFactor: number;
  readonly minSamples: number;
  readonly overload: ReadonlySet<number>;
  readonly maxPauseMs: number;
  readonly maxKeys: number;
  readonly clock: Clock;
  readonly onChange: ((key: string, limit: number) => void) | undefined;
}

export function resolveAdaptiveOptions(options: AdaptiveLimitOptions): ResolvedAdaptiveOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', options, 'an object like { ceiling: 64 }');
  }
  const {
    ceiling,
    floor = 1,
    decrease = 0.9,
    probeAfter = 300,
    latencyFactor = 3,
    minSamples = 20,
    overloadStatuses = [429, 503],
    maxPauseMs = 30_000,
    maxKeys = 10_000,
    clock = systemClock,
    onChange,
  } = options;
  const bounds = limitBounds(options, floor, ceiling);
  if (typeof decrease !== 'number' || !(decrease > 0 && decrease < 1)) {
    throw new InvalidArgumentError('decrease', decrease, 'a number between 0 and 1 (exclusive)');
  }
  const probe = int('probeAfter', probeAfter, 1);
  if (typeof latencyFactor !== 'number' || !(latencyFactor > 1)) {
    throw new InvalidArgumentError('latencyFactor', latencyFactor, 'a number > 1 or Infinity');
  }
  const samples = int('minSamples', minSamples, 1);
  if (
    !Array.isArray(overloadStatuses) ||
    !overloadStatuses.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)
  ) {
    throw new InvalidArgumentError(
      'overloadStatuses',
      overloadStatuses,
      'an array of HTTP statuses (100-599)',
    );
  }
  const pause = int('maxPauseMs', maxPauseMs, 0);
  const keys = int('maxKeys', maxKeys, 1);
  const checkedClock = assertClock(clock);
  if (onChange !== undefined && typeof onChange !== 'function') {
    throw new InvalidArgumentError('onChange', onChange, 'a function');
  }
  return {
    ...bounds,
    decrease,
    probeAfter: probe,
    latencyFactor,
    minSamples: samples,
    overload: new Set(overloadStatuses),
    maxPauseMs: pause,
    maxKeys: keys,
    clock: checkedClock,
    onChange,
  };
}

/** floor, then ceiling (at least floor), then initial (from floor to ceiling), in that order. */
function limitBounds(options: AdaptiveLimitOptions, floor: unknown, ceiling: unknown) {
  const low = int('floor', floor, 1);
  const high = int('ceiling', ceiling, low);
  const { initial = Math.min(high, Math.max(low, 4)) } = options;
  const start = int('initial', initial, low);
  if (start > high) {
    throw new InvalidArgumentError('initial', initial, `an integer from floor (${low}) to ceiling (${high})`);
  }
  return { floor: low, ceiling: high, initial: start };
}

function int(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(option, value, `an integer >= ${min}`);
  }
  return value;
}
