// Hand-written, part of the product: the time source of the downstream limiters. Token buckets, pauses and
// latency baselines all read time through this, so tests drive them on a fake clock (no wall-clock waits).
import { InvalidArgumentError } from '../errors.js';

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds on a monotonic scale (performance.now by default: a wall-clock jump cannot refill a bucket). */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Node's longest timer: a longer delay is taken as 1 ms (with a TimeoutOverflowWarning), so a rate of one
 * request a century would re-arm every millisecond. Clamped, such a timer fires early and its owner, finding
 * no token yet, arms it again.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, Math.min(ms, MAX_TIMER_MS)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Housekeeping timers must not keep the process alive; fake clocks' handles have no unref and are left be. */
export function unrefTimer(handle: TimerHandle): void {
  (handle as { unref?: () => void } | undefined)?.unref?.();
}

/** Throws InvalidArgumentError unless `clock` has the three methods of a Clock. */
export function assertClock(clock: Clock, option = 'clock'): Clock {
  const ok =
    clock !== null &&
    typeof clock === 'object' &&
    typeof clock.now === 'function' &&
    typeof clock.setTimeout === 'function' &&
    typeof clock.clearTimeout === 'function';
  if (!ok)
    throw new InvalidArgumentError(option, clock, 'an object with now(), setTimeout() and clearTimeout()');
  return clock;
}
