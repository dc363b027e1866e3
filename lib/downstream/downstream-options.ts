// Hand-written, part of the product: the options of one process's DownstreamPolicy
// (lib/downstream/downstream-policy.ts).
import type { AdaptiveLimitOptions } from './adaptive-limit.js';
import type { Clock } from './clock.js';
import type { FleetLeaseWiring } from './fleet-limits.js';
import type { HostLimits } from './host-limits.js';

export type AdaptiveTuning = Omit<AdaptiveLimitOptions, 'ceiling' | 'clock' | 'onChange'> & {
  /** The adaptive ceiling of a host without maxConcurrency. Default 64. */
  readonly ceiling?: number;
};

export interface DownstreamOptions {
  /** Fraction of each host's limits this process may use, in (0, 1]. Default 1; fleetShare(config) in the cloud. */
  readonly share?: number;
  /** Tasks in flight at once across all hosts. Default Infinity (the socket caps bound it below). */
  readonly global?: number;
  /** Limits of hosts the map does not name. Default: none (no cap, no rate, not adaptive). */
  readonly defaults?: HostLimits;
  /** Tuning shared by every adaptive host. */
  readonly adaptive?: AdaptiveTuning;
  readonly clock?: Clock;
  /**
   * The fleet's lease store: hosts declared `shared: true` (with a maxConcurrency) then hold fleet-wide
   * permits instead of `share` of the cap, and fall back to that share while the store fails (issue 17).
   */
  readonly leases?: FleetLeaseWiring;
}
