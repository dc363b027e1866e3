// The KeyedLimiter's options, checked before any state is built; an error names the option and the value.
import { assertInteger, InvalidArgumentError } from '../errors.js';
import { assertClock, type Clock, systemClock } from './clock.js';

export interface KeyedLimiterOptions<I = string> {
  /** Tasks running at once across all keys: an integer >= 1 or Infinity. */
  readonly global: number;
  /** Tasks running at once per key: a number, or a function of the key (read when a key becomes active). */
  readonly perKey: number | ((key: string) => number);
  /** Turns the first argument of run/acquire into the key (a URL into its host, say). Default: String. */
  readonly keyOf?: (input: I) => string;
  /**
   * Asked right before a key's task starts: return 0 to let it start (and take whatever it rations), or
   * the milliseconds to hold the key back. Used for request rates and Retry-After pauses.
   */
  readonly gate?: (key: string) => number;
  readonly clock?: Clock;
}

/** The options with defaults filled in and every value checked; perKey always a function. */
export interface ResolvedKeyedLimiterOptions<I> {
  readonly global: number;
  readonly perKey: (key: string) => number;
  readonly keyOf: (input: I) => string;
  readonly gate: ((key: string) => number) | undefined;
  readonly clock: Clock;
}

export function resolveKeyedLimiterOptions<I>(
  options: KeyedLimiterOptions<I>,
): ResolvedKeyedLimiterOptions<I> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', options, 'an object like { global: 64, perKey: 8 }');
  }
  const { global, perKey, keyOf = String, gate, clock = systemClock } = options;
  const checkedGlobal = assertInteger('global', global, { allowInfinity: true });
  let perKeyOf: (key: string) => number;
  if (typeof perKey === 'function') {
    perKeyOf = (key) => assertInteger(`perKey(${JSON.stringify(key)})`, perKey(key), { allowInfinity: true });
  } else {
    const limit = assertInteger('perKey', perKey, { allowInfinity: true });
    perKeyOf = () => limit;
  }
  if (typeof keyOf !== 'function') throw new InvalidArgumentError('keyOf', keyOf, 'a function');
  if (gate !== undefined && typeof gate !== 'function')
    throw new InvalidArgumentError('gate', gate, 'a function');
  return {
    global: checkedGlobal,
    perKey: perKeyOf,
    keyOf: keyOf as (input: I) => string,
    gate,
    clock: assertClock(clock),
  };
}
