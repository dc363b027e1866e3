// Hand-written, part of the product: the `downstream` config read once, checked, and cut to the share of one
// process. The fleet (every worker instance plus the orchestrators) splits each host's limits, so together
// they stay within them; planBudget prints the same figures.

import { type DownstreamLimits, type FanoutConfig, NO_RESERVATION } from '../config.js';
import { assertInteger, InvalidArgumentError } from '../errors.js';
import { type FleetSize, fleetProcesses } from '../fleet.js';

/** A host's limits as the config declares them, plus an optional burst for its token bucket. */
export interface HostLimits extends DownstreamLimits {
  /** Requests the host may get at once after a quiet spell (split like the rate). Default: a tenth of a second's worth, at least 1. */
  readonly burst?: number;
}

/** One process's limits for one host, after its share is taken. */
export interface ResolvedHostLimits {
  /** Concurrent requests; Infinity when the host declares none. */
  readonly maxConcurrency: number;
  /** Requests per second; Infinity when the host declares none. */
  readonly maxRequestsPerSecond: number;
  readonly burst: number;
  readonly adaptive: boolean;
}

/**
 * Processes that share one host's budget in the cloud, each with its own policy: the worker instances (from
 * the queue, plus the orchestrators' direct invokes, capped by the worker's reserved concurrency) and the
 * orchestrators. The same count as the budget's worst case (lib/fleet.ts, fleetProcesses).
 */
export function fleetInstances(config: FleetSize): number {
  for (const field of ['workerMaxConcurrency', 'invokeConcurrency'] as const) {
    assertInteger(field, config?.[field]);
  }
  for (const field of ['workerReservedConcurrency', 'orchestratorReservedConcurrency'] as const) {
    // "none": no reservation (lib/config.ts ReservedConcurrency); fleetProcesses counts the fleet without it.
    if (config?.[field] !== NO_RESERVATION) assertInteger(field, config?.[field]);
  }
  return fleetProcesses(config).processes;
}

/** The fraction of each host's limits one process may use: 1 / fleetInstances. */
export function fleetShare(config: FleetSize): number {
  return 1 / fleetInstances(config);
}

/**
 * One process's request rate to `host`: the host's maxRequestsPerSecond divided among the fleet's
 * processes (fleetInstances). undefined when the host declares no rate.
 */
export function shareOfRate(
  config: FleetSize & Pick<FanoutConfig, 'downstream'>,
  host: string,
): number | undefined {
  const rate = config.downstream[host]?.maxRequestsPerSecond;
  return rate === undefined ? undefined : rate / fleetInstances(config);
}

/** What the whole fleet can send to a host at worst: per-process shares times the processes. */
export interface FleetHostBudget {
  readonly host: string;
  readonly instances: number;
  readonly perInstance: ResolvedHostLimits;
  /** Concurrent requests from the fleet at most (Infinity when the host declares no cap). */
  readonly concurrency: number;
  /** Requests per second from the fleet in the long run (Infinity when none declared). */
  readonly requestsPerSecond: number;
  /** Requests the fleet can send at once after a quiet spell: instances x burst. */
  readonly burst: number;
}

/** The fleet's worst case for each declared host, for planBudget's table. */
export function fleetDownstreamBudget(
  config: FleetSize & Pick<FanoutConfig, 'downstream'>,
): FleetHostBudget[] {
  const instances = fleetInstances(config);
  return Object.keys(config.downstream).map((host) => {
    const perInstance = resolveHostLimits(host, config.downstream[host], 1 / instances);
    return {
      host,
      instances,
      perInstance,
      concurrency: perInstance.maxConcurrency * instances,
      requestsPerSecond: perInstance.maxRequestsPerSecond * instances,
      burst:
        perInstance.maxRequestsPerSecond === Number.POSITIVE_INFINITY
          ? Number.POSITIVE_INFINITY
          : perInstance.burst * instances,
    };
  });
}

/**
 * Checks one host's entry and takes `share` of it. Concurrency is rounded down but kept at least 1 (a
 * budget that leaves a process less than one request is validateBudget's to refuse); the rate may be
 * fractional (0.5 means one request every two seconds).
 */
export function resolveHostLimits(
  host: string,
  limits: HostLimits | undefined,
  share = 1,
): ResolvedHostLimits {
  const where = `downstream[${JSON.stringify(host)}]`;
  if (typeof share !== 'number' || !(share > 0 && share <= 1)) {
    throw new InvalidArgumentError('share', share, 'a number in (0, 1]');
  }
  if (limits === undefined) {
    return { maxConcurrency: Infinity, maxRequestsPerSecond: Infinity, burst: 1, adaptive: false };
  }
  if (limits === null || typeof limits !== 'object') {
    throw new InvalidArgumentError(
      where,
      limits,
      'an object like { maxConcurrency: 8, maxRequestsPerSecond: 50 }',
    );
  }
  const { maxConcurrency, maxRequestsPerSecond, burst, adaptive = false } = limits;
  if (maxConcurrency !== undefined && (!Number.isInteger(maxConcurrency) || maxConcurrency < 1)) {
    throw new InvalidArgumentError(`${where}.maxConcurrency`, maxConcurrency, 'an integer >= 1');
  }
  if (
    maxRequestsPerSecond !== undefined &&
    (typeof maxRequestsPerSecond !== 'number' ||
      !(maxRequestsPerSecond > 0) ||
      !Number.isFinite(maxRequestsPerSecond))
  ) {
    throw new InvalidArgumentError(
      `${where}.maxRequestsPerSecond`,
      maxRequestsPerSecond,
      'a finite number > 0',
    );
  }
  if (burst !== undefined && (!Number.isInteger(burst) || burst < 1)) {
    throw new InvalidArgumentError(`${where}.burst`, burst, 'an integer >= 1');
  }
  if (typeof adaptive !== 'boolean')
    throw new InvalidArgumentError(`${where}.adaptive`, adaptive, 'true or false');
  if (limits.shared !== undefined && typeof limits.shared !== 'boolean')
    throw new InvalidArgumentError(`${where}.shared`, limits.shared, 'true or false');
  const rate = maxRequestsPerSecond === undefined ? Infinity : maxRequestsPerSecond * share;
  return {
    maxConcurrency: maxConcurrency === undefined ? Infinity : Math.max(1, Math.floor(maxConcurrency * share)),
    maxRequestsPerSecond: rate,
    // A tenth of a second's worth: enough that late timers lose no tokens, small enough not to burst.
    burst:
      burst !== undefined
        ? Math.max(1, Math.floor(burst * share))
        : rate === Infinity
          ? 1
          : Math.max(1, Math.ceil(rate / 10)),
    adaptive,
  };
}

/** Checks every entry of a `downstream` map; throws on the first bad one, naming host and field. */
export function validateDownstream(downstream: Readonly<Record<string, HostLimits>>): void {
  if (downstream === null || typeof downstream !== 'object' || Array.isArray(downstream)) {
    throw new InvalidArgumentError('downstream', downstream, 'an object of host names to limits');
  }
  for (const [host, limits] of Object.entries(downstream)) {
    if (host === '' || /[/\s]/.test(host)) {
      throw new InvalidArgumentError('downstream', host, 'host names (or host:port) as keys');
    }
    resolveHostLimits(host, limits);
  }
}
