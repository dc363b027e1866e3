// The lease store's share of the plan's cost (issue 17): for each host declared `shared: true`, the DynamoDB
// writes its leases take when the plan's million queued tasks all go to that host. Leases are written per block
// of permits and per renewal, never per request, so the cost follows the drain time and the invocations, not
// the task count.
//
// The model, stated where it is made (lib/downstream/fleet-lease.ts's defaults):
// - the fleet holds at once what the host's worst-case rate needs at the plan's latency (rate x latency, at
//   most the worst-case concurrency), one holder per permit up to the process count;
// - each worker invocation starts with no permits, takes what it wants in blocks of leaseBlock(cap) (one write
//   a block) and gives the rest back at its end (one write): ceil(w / B) + 1 writes, w = the permits one
//   holder holds at the fleet's worst case;
// - every holder renews at a third of the lease's life (leaseTtlMs of requestTimeoutMs) while the job drains:
//   3 x holders x drain / ttl writes;
// - a host with a rate takes its fleet bucket's tokens in blocks of an eighth of a slice's worth (rateBlock)
//   per write, one conditional UpdateItem each (1 write unit, no read);
// - each lease call is one conditional transaction of 2 items (the lease and the host's counter) of under
//   1 KB, after one consistent Query of the host's partition (1 read unit);
// Left out: reclaims of expired leases (one write per container that died holding permits).
import type { FanoutConfig } from '../config.js';
import { leaseBlock, leaseTtlMs, rateBlock } from '../downstream/shared-host-bound.js';
import type { HostPlan } from './host-plans.js';
import { awsPrices } from './prices.js';

const MILLION = 1_000_000;
/** A transactional write costs 2 write units per item of up to 1 KB; a lease write has 2 items. */
export const LEASE_WRITE_UNITS = 2 * 2;
/** A token take is one conditional UpdateItem of an item under 1 KB: 1 write unit. */
export const TOKEN_WRITE_UNITS = 1;

export interface LeaseCost {
  readonly host: string;
  /** Processes holding permits at once: min(processes, the permits the fleet uses at once). */
  readonly holders: number;
  /** Seconds the million tasks take to drain at the host's worst-case rate. */
  readonly drainSeconds: number;
  /** The lease's life; renewals come at a third of it. */
  readonly ttlMs: number;
  readonly renewals: number;
  /** Takes and gives: (ceil(w / block) + 1) per worker invocation. */
  readonly blockWrites: number;
  readonly block: number;
  /** Token takes of the fleet bucket, a block (an eighth of a slice's worth) each (0 without a rate). */
  readonly rateWrites: number;
  /** Tokens per take. */
  readonly rateBlock: number;
  readonly writes: number;
  readonly writeUnits: number;
  /** One consistent read per lease call (renewals, takes and gives). */
  readonly readUnits: number;
  readonly usd: number;
}

/** The lease writes of `tasks` queued tasks to one shared host (its plan row), in `workerInvocations` invocations. */
export function leaseCost(
  host: HostPlan,
  job: {
    readonly tasks: number;
    readonly workerInvocations: number;
    readonly requestTimeoutMs: number;
    readonly latencyMs: number;
  },
): LeaseCost {
  const ttlMs = leaseTtlMs(job.requestTimeoutMs);
  const cap = host.maxConcurrency ?? host.worstCaseConcurrency;
  const inUse = Math.max(
    1,
    Math.ceil(Math.min(host.worstCaseConcurrency, (host.worstCaseRequestsPerSecond * job.latencyMs) / 1000)),
  );
  const holders = Math.min(host.processes, inUse);
  const drainSeconds = job.tasks / host.worstCaseRequestsPerSecond;
  const renewals = Math.ceil((3 * holders * drainSeconds * 1000) / ttlMs);
  const block = leaseBlock(cap);
  const perHolder = Math.ceil(inUse / holders);
  const blockWrites = job.workerInvocations * (Math.ceil(perHolder / block) + 1);
  const tokens = host.maxRequestsPerSecond === undefined ? 0 : rateBlock(host.maxRequestsPerSecond);
  const rateWrites = tokens === 0 ? 0 : Math.ceil(job.tasks / tokens);
  const writes = renewals + blockWrites + rateWrites;
  const writeUnits = (renewals + blockWrites) * LEASE_WRITE_UNITS + rateWrites * TOKEN_WRITE_UNITS;
  const readUnits = renewals + blockWrites;
  const { usdPerMillionWriteUnits, usdPerMillionReadUnits } = awsPrices.dynamodb;
  const usd = (writeUnits * usdPerMillionWriteUnits + readUnits * usdPerMillionReadUnits) / MILLION;
  return {
    host: host.host,
    holders,
    drainSeconds,
    ttlMs,
    renewals,
    blockWrites,
    block,
    rateWrites,
    rateBlock: tokens,
    writes,
    writeUnits,
    readUnits,
    usd,
  };
}

/** One row per shared host, each as if the plan's million queued tasks all went to it. */
export function leaseCosts(
  c: FanoutConfig,
  hosts: readonly HostPlan[],
  workerInvocations: number,
  latencyMs: number,
): LeaseCost[] {
  return hosts
    .filter((host) => c.downstream[host.host]?.shared === true)
    .map((host) =>
      leaseCost(host, { tasks: MILLION, workerInvocations, requestTimeoutMs: c.requestTimeoutMs, latencyMs }),
    );
}
