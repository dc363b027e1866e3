// Each declared downstream host's worst case across the fleet: the per-process shares lib/downstream enforces,
// times the processes that may run at once, against the host's own limits (the plan's host table).

import type { FanoutConfig } from '../config.js';
import { fleetDownstreamBudget } from '../downstream/host-limits.js';
import { type SharedHostBound, sharedHostBound } from '../downstream/shared-host-bound.js';
import type { concurrencyOf } from './budget-rules.js';

export interface HostPlan {
  readonly host: string;
  /** Processes sharing the host's limits (workers + orchestrators), each with its own policy. */
  readonly processes: number;
  /** One process's share of maxConcurrency: floor(maxConcurrency / processes), at least 1; Infinity when none. */
  readonly perProcessConcurrency: number;
  /**
   * Concurrent requests the fleet can send the host at worst: each worker at min(its sockets to a host, its
   * share), each orchestrator likewise. Without maxConcurrency, the socket bound alone.
   */
  readonly worstCaseConcurrency: number;
  /** One process's share of maxRequestsPerSecond; Infinity when none. */
  readonly perProcessRequestsPerSecond: number;
  /**
   * Requests per second the fleet is held to: min(worstCaseConcurrency x 1000 / latencyMs, the sum of the
   * processes' rate shares).
   */
  readonly worstCaseRequestsPerSecond: number;
  /** Requests the fleet can send at once after a quiet spell: processes x each one's burst; Infinity when no rate. */
  readonly fleetBurst: number;
  readonly maxConcurrency?: number;
  readonly maxRequestsPerSecond?: number;
  readonly adaptive?: boolean;
  readonly shared?: boolean;
  /** `shared: true`: the lease figures (the cap, the fleet bucket, the fallback); the fields above follow them. */
  readonly lease?: SharedHostBound;
  readonly withinConcurrency: boolean;
  /** The rate limiter, not concurrency x latency, is what holds the host's rate at the plan's latency. */
  readonly rateLimited: boolean;
}

/** Each declared host's worst case with the per-process policies of lib/downstream in place. */
export function hostPlans(
  c: FanoutConfig,
  latencyMs: number,
  k: ReturnType<typeof concurrencyOf>,
): HostPlan[] {
  return fleetDownstreamBudget(c).map((fleet): HostPlan => {
    const limits = c.downstream[fleet.host];
    if (limits.shared === true) return sharedHostPlan(fleet.host, limits, latencyMs, k);
    const cap = fleet.perInstance.maxConcurrency;
    const worstCaseConcurrency =
      k.workers * Math.min(k.workerSocketsPerHost, cap) +
      k.orchestrators * Math.min(k.orchestratorSocketsPerHost, cap);
    const byConcurrency = (worstCaseConcurrency * 1000) / latencyMs;
    return {
      host: fleet.host,
      processes: fleet.instances,
      perProcessConcurrency: cap,
      worstCaseConcurrency,
      perProcessRequestsPerSecond: fleet.perInstance.maxRequestsPerSecond,
      worstCaseRequestsPerSecond: Math.min(byConcurrency, fleet.requestsPerSecond),
      fleetBurst: fleet.burst,
      ...limits,
      withinConcurrency: limits.maxConcurrency === undefined || worstCaseConcurrency <= limits.maxConcurrency,
      rateLimited: fleet.requestsPerSecond < byConcurrency,
    };
  });
}

/**
 * A shared host: the fleet holds it on leases, so at worst it sees its cap (or every socket the fleet can open
 * to it, when fewer), and the fleet's bucket holds it to its rate. One process may hold all of either.
 */
function sharedHostPlan(
  host: string,
  limits: FanoutConfig['downstream'][string],
  latencyMs: number,
  k: ReturnType<typeof concurrencyOf>,
): HostPlan {
  const lease = sharedHostBound(limits, k.processes);
  const worstCaseConcurrency = Math.min(lease.concurrency, k.perHost);
  const byConcurrency = (worstCaseConcurrency * 1000) / latencyMs;
  return {
    host,
    processes: k.processes,
    perProcessConcurrency: Math.min(
      lease.concurrency,
      Math.max(k.workerSocketsPerHost, k.orchestratorSocketsPerHost),
    ),
    worstCaseConcurrency,
    perProcessRequestsPerSecond: lease.requestsPerSecond,
    worstCaseRequestsPerSecond: Math.min(byConcurrency, lease.requestsPerSecond),
    fleetBurst: lease.burst,
    ...limits,
    lease,
    withinConcurrency: true,
    rateLimited: lease.requestsPerSecond < byConcurrency,
  };
}
