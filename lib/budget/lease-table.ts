// The plan's lines for hosts declared `shared: true` (issue 17): the bound leases give (printed under the host
// table by `plan` and `cdk synth`) and the lease writes in the cost table.
import type { FanoutConfig } from '../config.js';
import { leaseDefaults, leaseTtlMs, RATE_SLICE_MS } from '../downstream/shared-host-bound.js';
import { LEASE_WRITE_UNITS, type LeaseCost } from './budget-leases.js';
import type { HostPlan } from './host-plans.js';

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** How leases bound each shared host: the cap, the expiry race, the fleet bucket, the fallback. */
export function leaseHostLines(c: FanoutConfig, hosts: readonly HostPlan[]): string[] {
  const ttl = seconds(leaseTtlMs(c.requestTimeoutMs));
  const skew = seconds(leaseDefaults.skewMs);
  return hosts.flatMap(({ host, lease, processes, maxConcurrency: cap, maxRequestsPerSecond: rate }) => {
    if (lease === undefined) return [];
    const lines = [`${host} (shared): leases across the fleet, ${ttl} each, renewed every third`];
    if (cap !== undefined) {
      const fallback = lease.fallbackConcurrency;
      lines.push(
        `  at once: at most its cap, ${count(cap)} (+${lease.expiryRaceExtra} in expiry races while wall clocks agree within ${skew} and an attempt ends within requestTimeoutMs, ${seconds(c.requestTimeoutMs)})`,
        `  lease store silent for a lease life: each process falls back to floor(${count(cap)} / ${processes}) = ${fallback}${fallback === 0 ? ' (it waits for the store)' : ''}; while only some have lost it, at most ${count(cap)} + ${processes - 1} x ${fallback} = ${count(lease.mixedFallbackConcurrency)}`,
      );
    }
    if (rate !== undefined) {
      lines.push(
        `  rate: one fleet bucket, slices of ${RATE_SLICE_MS} ms: at most ${rate}/s in the long run, ${count(lease.burst)} at once after a quiet spell (two slices' worth)`,
      );
    }
    return lines;
  });
}

/** The cost table's row for each shared host's lease writes. */
export function leaseCostRows(leases: readonly LeaseCost[], usd: (n: number) => string): string[][] {
  return leases.map((l) => [
    `Lease writes, ${l.host}`,
    count(l.writeUnits),
    `${LEASE_WRITE_UNITS} units x (${count(l.renewals)} renewals (${l.holders} holders x ${count(l.drainSeconds)} s / ${seconds(l.ttlMs / 3)}) + ${count(l.blockWrites)} takes and gives (blocks of ${l.block}))${l.rateWrites > 0 ? ` + ${count(l.rateWrites)} token takes (blocks of ${l.rateBlock}, 1 unit each)` : ''} + ${count(l.readUnits)} reads`,
    usd(l.usd),
  ]);
}
