// Issue 17: the budget's proof for hosts declared `shared: true` (leases across the fleet). The config field is
// checked like every other; a shared host is held to its cap whatever the process count, so a cap below the
// process count is accepted; the plan (`plan`, `cdk synth`) prints the figure, the fallback and the lease
// writes, and the figures agree with FleetLease's own defaults.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatBudgetTable } from '../../../lib/budget/budget-table.js';
import { checkBudget, concurrencyOf, planBudget } from '../../../lib/budget/index.js';
import { type FanoutConfig, withDefaults } from '../../../lib/config.js';
import { FleetLease } from '../../../lib/downstream/fleet-lease.js';
import { resolveHostLimits } from '../../../lib/downstream/host-limits.js';
import { MemoryLeaseStore } from '../../../lib/downstream/lease-store.js';
import {
  fleetRateBurst,
  leaseBlock,
  leaseDefaults,
  leaseTtlMs,
  sharedHostBound,
} from '../../../lib/downstream/shared-host-bound.js';
import { RUNS } from '../../helpers/runs.js';
import { FakeClock } from '../downstream/fake-clock.js';

const configWith = (overrides: Record<string, unknown>) => withDefaults(overrides as Partial<FanoutConfig>);
const host = (limits: Record<string, unknown>) => configWith({ downstream: { 'api.example.com': limits } });

describe('downstream.<host>.shared', () => {
  it('is a boolean: anything else is refused, naming the field and the value', () => {
    expect(checkBudget(host({ maxConcurrency: 30, shared: 'yes' }))).toEqual([
      { path: 'downstream["api.example.com"].shared', value: 'yes', message: 'is not a boolean' },
    ]);
    expect(checkBudget(host({ maxConcurrency: 30, shared: 1 }))[0]).toMatchObject({
      path: 'downstream["api.example.com"].shared',
      value: 1,
    });
    expect(checkBudget(host({ maxConcurrency: 30, shared: true }))).toEqual([]);
    expect(checkBudget(host({ maxConcurrency: 30, shared: false }))).toEqual([]);
    expect(() => resolveHostLimits('h', { shared: 'yes' } as never)).toThrow(
      'Expected `downstream["h"].shared` to be true or false, got "yes"',
    );
  });

  it('accepts a cap below the process count when shared, and still refuses it when not', () => {
    // Defaults: 14 workers + 1 orchestrator = 15 processes.
    const [refused] = checkBudget(host({ maxConcurrency: 12 }));
    expect(refused.path).toBe('downstream["api.example.com"].maxConcurrency');
    expect(refused.message).toContain('or declare it shared: true (leases across the fleet)');
    expect(checkBudget(host({ maxConcurrency: 12, shared: true }))).toEqual([]);
    expect(checkBudget(host({ maxConcurrency: 12, shared: false }))).toHaveLength(1);
  });
});

describe('planBudget with a shared host', () => {
  it('holds a shared host to its cap, not processes x share, with the fallback stated', () => {
    const plan = planBudget(host({ maxConcurrency: 12, shared: true }), { tasks: 1000, latencyMs: 100 });
    const [api] = plan.hosts;
    expect(plan.problems).toEqual([]);
    expect(api).toMatchObject({
      processes: 15,
      perProcessConcurrency: 12, // one process may hold all 12 (below its 16 sockets)
      worstCaseConcurrency: 12,
      worstCaseRequestsPerSecond: 120,
      withinConcurrency: true,
      shared: true,
    });
    expect(api.lease).toEqual({
      concurrency: 12,
      expiryRaceExtra: 0,
      requestsPerSecond: Number.POSITIVE_INFINITY,
      burst: Number.POSITIVE_INFINITY,
      fallbackConcurrency: 0, // floor(12 / 15): never raised to 1, so a fleet without its store stays within 12
      mixedFallbackConcurrency: 12,
    });
    // The same host not shared: 1 each, 15 at once, over its cap.
    const unshared = planBudget(host({ maxConcurrency: 12 }), { tasks: 1000, latencyMs: 100 }).hosts[0];
    expect(unshared).toMatchObject({ worstCaseConcurrency: 15, withinConcurrency: false });
  });

  it('uses the whole cap of 30 where the static share reaches it only with every process busy', () => {
    const plan = planBudget(host({ maxConcurrency: 30, shared: true }), { tasks: 1000, latencyMs: 100 });
    const [api] = plan.hosts;
    expect(api).toMatchObject({ perProcessConcurrency: 16, worstCaseConcurrency: 30 });
    // 2 each without the store; 30 + 14 x 2 = 58 while some processes have lost it and the rest hold 30.
    expect(api.lease).toMatchObject({ fallbackConcurrency: 2, mixedFallbackConcurrency: 58 });
  });

  it('holds the rate by one fleet bucket: the whole rate per process, a burst of two slices', () => {
    const plan = planBudget(host({ maxConcurrency: 30, maxRequestsPerSecond: 20, shared: true }), {
      tasks: 1000,
      latencyMs: 100,
    });
    const [api] = plan.hosts;
    // 30 at 100 ms = 300/s by concurrency, held to 20/s; a slice of 1 s holds 20 tokens: two slices, 40.
    expect(api).toMatchObject({
      perProcessRequestsPerSecond: 20,
      worstCaseRequestsPerSecond: 20,
      fleetBurst: 40,
      rateLimited: true,
    });
    expect(fleetRateBurst(1000)).toBe(2000);
    expect(fleetRateBurst(0.5)).toBe(2);
    // The per-process warning (processes x a burst) does not apply: the lease lines state the fleet's burst.
    expect(plan.warnings.filter((w) => w.includes('quiet spell'))).toEqual([]);
  });

  it('prices the lease writes per block and renewal: cents for a million requests at 100 ms', () => {
    const plan = planBudget(host({ maxConcurrency: 30, shared: true }), { tasks: 1000, latencyMs: 100 });
    const [lease] = plan.cost.leases;
    // 1,000,000 x 100 ms / 30 at once = 3,333.3 s; 15 holders renew every 36 s / 3 = 12 s: 4,167 renewals.
    // 4,000 worker invocations of 250 tasks, each takes 2 permits in one block of floor(30 / 8) = 3 and gives
    // them back: 8,000 writes. 12,167 writes x 4 units (2-item transactions) = 48,668 units x $0.625 / M,
    // and a consistent read before each: 12,167 read units x $0.125 / M.
    expect(lease).toMatchObject({
      host: 'api.example.com',
      holders: 15,
      ttlMs: 36_000,
      renewals: 4_167,
      block: 3,
      blockWrites: 8_000,
      rateWrites: 0,
      writes: 12_167,
      writeUnits: 48_668,
      readUnits: 12_167,
    });
    expect(lease.usd).toBeCloseTo(0.031938375, 10);
    const base = planBudget(host({ maxConcurrency: 30 }), { tasks: 1000, latencyMs: 100 });
    expect(base.cost.leases).toEqual([]);
    expect(plan.cost.usd).toBeCloseTo(base.cost.usd + lease.usd, 10);
  });

  it('counts only the dearest shared host in the total: the million tasks go to one host', () => {
    const config = configWith({
      downstream: {
        'a.example.com': { maxConcurrency: 30, shared: true },
        'b.example.com': { maxConcurrency: 300, shared: true },
      },
    });
    const plan = planBudget(config, { tasks: 1000, latencyMs: 100 });
    const [a, b] = plan.cost.leases;
    const none = planBudget(configWith({}), { tasks: 1000, latencyMs: 100 });
    expect(a.usd).toBeGreaterThan(b.usd);
    expect(plan.cost.usd).toBeCloseTo(none.cost.usd + a.usd, 10);
  });

  it('prints the figure, the fallback and the lease writes (plan and cdk synth share this table)', () => {
    const config = configWith({
      downstream: {
        'api.example.com': { maxConcurrency: 12, maxRequestsPerSecond: 20, shared: true },
        'old.example.com': { maxConcurrency: 30 },
      },
    });
    const table = formatBudgetTable(planBudget(config, { tasks: 1_000_000, latencyMs: 100 }));
    expect(table).toMatch(
      /api\.example\.com\s+12\s+12\s+12\s+20\s+20\s+20\s+40\s+held by its rate, shared: leases/,
    );
    expect(table).toMatch(/old\.example\.com\s+30\s+2\s+30\s+-\s+-\s+300\s+-\s+ok/);
    expect(table).toContain('each of 15 processes holds a host not shared to its share of the limits');
    expect(table).toContain(
      [
        '  api.example.com (shared): leases across the fleet, 36 s each, renewed every third',
        '    at once: at most its cap, 12 (+0 in expiry races while wall clocks agree within 1 s and an attempt ends within requestTimeoutMs, 10 s)',
        '    lease store silent for a lease life: each process falls back to floor(12 / 15) = 0 (it waits for the store); while only some have lost it, at most 12 + 14 x 0 = 12',
        "    rate: one fleet bucket, slices of 1000 ms: at most 20/s in the long run, 40 at once after a quiet spell (two slices' worth)",
      ].join('\n'),
    );
    // 20/s at 100 ms: 2 at once, 2 holders for 50,000 s; 333,334 token takes of 3 (an eighth of a slice's 20).
    expect(table).toMatch(
      /Lease writes, api\.example\.com\s+398,670\s+4 units x \(8,334 renewals \(2 holders x 50,000 s \/ 12 s\) \+ 8,000 takes and gives \(blocks of 1\)\) \+ 333,334 token takes \(blocks of 3, 1 unit each\) \+ 16,334 reads\s+0\.2512$/m,
    );
    expect(table).toContain('Lease writes: per block of permits and per renewal, never per request');
    expect(formatBudgetTable(planBudget(configWith({}), { tasks: 1, latencyMs: 100 }))).not.toContain(
      'Lease writes',
    );
  });

  it('never plans a shared host above its cap or refuses it for the process count, over random fleets', () => {
    fc.assert(
      fc.property(
        fc.record({
          workerMaxConcurrency: fc.integer({ min: 2, max: 1000 }),
          invokeConcurrency: fc.integer({ min: 1, max: 50 }),
          orchestratorReservedConcurrency: fc.integer({ min: 1, max: 5 }),
          maxSocketsPerHost: fc.integer({ min: 1, max: 64 }),
        }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.option(fc.double({ min: 0.1, max: 10_000, noNaN: true }), { nil: undefined }),
        (values, cap, rate) => {
          const workerReservedConcurrency =
            values.workerMaxConcurrency + values.invokeConcurrency * values.orchestratorReservedConcurrency;
          const limits = {
            maxConcurrency: cap,
            shared: true,
            ...(rate ? { maxRequestsPerSecond: rate } : {}),
          };
          const config = configWith({
            ...values,
            workerReservedConcurrency,
            downstream: { 'h.example.com': limits },
          });
          // Other rules (sockets, reservations) may refuse a random fleet: none may name the shared host.
          expect(checkBudget(config).filter((p) => p.path.startsWith('downstream'))).toEqual([]);
          const k = concurrencyOf(config);
          const [h] = planBudget(config, { tasks: 1000, latencyMs: 100 }).hosts;
          expect(h.worstCaseConcurrency).toBe(Math.min(cap, k.perHost));
          expect(h.withinConcurrency).toBe(true);
          const lease = h.lease!;
          // Without the store, the fleet stays within the cap; mixed, never past cap + the others' shares.
          expect(lease.fallbackConcurrency * k.processes).toBeLessThanOrEqual(cap);
          expect(lease.mixedFallbackConcurrency).toBe(
            cap + (k.processes - 1) * Math.floor(cap / k.processes),
          );
          if (cap < k.processes) expect(lease.mixedFallbackConcurrency).toBe(cap);
          if (rate) expect(h.worstCaseRequestsPerSecond).toBeLessThanOrEqual(rate);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('the figures follow FleetLease', () => {
  it("takes a first block of leaseBlock(cap) permits, FleetLease's default block", async () => {
    for (const cap of [1, 7, 12, 30, 100]) {
      const store = new MemoryLeaseStore();
      const lease = new FleetLease({
        store,
        host: 'h',
        holder: 'p',
        cap,
        maxHoldMs: 1_000,
        clock: new FakeClock(),
      });
      lease.want(cap);
      await lease.sync();
      expect(lease.held).toBe(leaseBlock(cap));
    }
  });

  it("accepts leaseTtlMs(maxHoldMs) and refuses 1 ms less: the lease's life the plan prices", () => {
    const options = { store: new MemoryLeaseStore(), host: 'h', holder: 'p', cap: 10, maxHoldMs: 10_000 };
    expect(leaseTtlMs(10_000)).toBe(36_000);
    expect(() => new FleetLease({ ...options, ttlMs: 36_000 })).not.toThrow();
    expect(() => new FleetLease({ ...options, ttlMs: 35_999 })).toThrow('ttlMs');
    expect(leaseTtlMs(1_000)).toBe(leaseDefaults.ttlMs);
  });

  it('trusts a default grant until ttl - 2 x skew - maxHold: the expiry race the plan states as 0', async () => {
    const clock = new FakeClock();
    const lease = new FleetLease({
      store: new MemoryLeaseStore(),
      host: 'h',
      holder: 'p',
      cap: 8,
      maxHoldMs: 1_000,
      clock,
    });
    lease.want(1);
    await lease.sync();
    const last = leaseDefaults.ttlMs - 2 * leaseDefaults.skewMs - 1_000;
    clock.advance(last);
    expect(lease.canStart()).toBe(true);
    clock.advance(1);
    expect(lease.canStart()).toBe(false);
    expect(sharedHostBound({ maxConcurrency: 8 }, 3).expiryRaceExtra).toBe(0);
  });
});
