// Hand-written, part of the product: the budget's proof for a host declared `shared: true` (issue 17), where the
// fleet holds the host through leases (lib/downstream/fleet-lease.ts) instead of a fixed share per process.
// planBudget prints these figures and validateBudget accepts a shared host whatever the process count, because
// the bound below is the cap itself, not processes x share.
//
// Why the bound is the cap, with no extra for expiry races: the store never grants more than the cap across
// live leases (lib/downstream/lease-store.ts), and takes a lease back only once the taker's wall clock is past
// its expiry, set from the holder's wall clock at renewal + ttl. The holder trusts its grant until the
// monotonic time of that renewal + ttl - 2 x skew, and starts a request only while maxHoldMs of it are left.
// So when the wall clocks agree within skewMs, every request started under a grant ends at least skewMs
// before any other process can take its permit back: the race costs 0 requests. The assumptions are stated
// where the plan prints the figure: clocks within skewMs, an attempt ends within maxHoldMs (the attempt
// timeout), and the monotonic clock runs while a container is frozen.

import { rateSliceTokens } from './shared-rate.js';

// The lease's defaults live with FleetLease, which uses them; the figures here read them from there.
export { leaseBlock, leaseDefaults, leaseTtlMs } from './fleet-lease.js';

// The fleet bucket's slice and tokens live with SharedRate, which uses them.
export { RATE_SLICE_MS, rateBlock, rateSliceTokens } from './shared-rate.js';

/**
 * The most the fleet bucket lets go at once: the tokens of one slice spent at its end and the next slice's at
 * its start, two slices' worth. Over any second, at most the rate plus one slice's worth.
 */
export function fleetRateBurst(requestsPerSecond: number): number {
  return 2 * rateSliceTokens(requestsPerSecond);
}

export interface SharedHostBound {
  /** Concurrent requests the fleet can hold on leases: the cap (Infinity when none is declared). */
  readonly concurrency: number;
  /** Requests beyond the cap an expiry race can add, under the stated assumptions: 0. */
  readonly expiryRaceExtra: number;
  /** Long-run requests per second from the fleet's bucket: maxRequestsPerSecond (Infinity when none). */
  readonly requestsPerSecond: number;
  /** Requests the fleet's bucket lets go at once after a quiet spell (Infinity when no rate). */
  readonly burst: number;
  /**
   * One process's concurrency while the lease store does not answer: floor(cap / processes), which may be 0
   * (that process then sends the host nothing until the store answers). Never raised to 1, so a fleet that
   * has lost the store altogether stays within the cap too.
   */
  readonly fallbackConcurrency: number;
  /**
   * The worst case while some processes have lost the store for longer than a lease's life (before that
   * they run only on the lease permits they hold: lib/downstream/shared-host.ts) and the others hold every
   * permit on leases: cap + (processes - 1) x fallbackConcurrency. Equal to the cap when the fallback share
   * is 0.
   */
  readonly mixedFallbackConcurrency: number;
}

/** The figures of one shared host for a fleet of `processes`. */
export function sharedHostBound(
  limits: { readonly maxConcurrency?: number; readonly maxRequestsPerSecond?: number },
  processes: number,
): SharedHostBound {
  const cap = limits.maxConcurrency ?? Number.POSITIVE_INFINITY;
  const rate = limits.maxRequestsPerSecond ?? Number.POSITIVE_INFINITY;
  const fallbackConcurrency = cap === Number.POSITIVE_INFINITY ? cap : Math.floor(cap / processes);
  return {
    concurrency: cap,
    expiryRaceExtra: 0,
    requestsPerSecond: rate,
    burst: rate === Number.POSITIVE_INFINITY ? rate : fleetRateBurst(rate),
    fallbackConcurrency,
    mixedFallbackConcurrency:
      cap === Number.POSITIVE_INFINITY ? cap : cap + (processes - 1) * fallbackConcurrency,
  };
}
