import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concurrencyOf } from '../../../lib/budget/index.js';
import { defaultConfig, withDefaults } from '../../../lib/config.js';
import { createDownstream } from '../../../lib/downstream/downstream-policy.js';
import {
  fleetDownstreamBudget,
  fleetInstances,
  fleetShare,
  resolveHostLimits,
  shareOfRate,
  validateDownstream,
} from '../../../lib/downstream/host-limits.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { RUNS } from '../../helpers/runs.js';

const config = withDefaults({
  workerMaxConcurrency: 10,
  downstream: {
    'api.partner.example': { maxConcurrency: 22, maxRequestsPerSecond: 110, adaptive: true },
    'slow.partner.example': { maxRequestsPerSecond: 5 },
    'open.partner.example': {},
  },
});

describe('fleet share', () => {
  it('splits a host among every process of the fleet: the worker instances and the orchestrators', () => {
    // Workers: min(reserved 14, 10 from the queue + 4 invokes x 1 orchestrator) = 14, plus 1 orchestrator.
    expect(fleetInstances(config)).toBe(15);
    expect(fleetShare(config)).toBeCloseTo(1 / 15);
    expect(shareOfRate(config, 'api.partner.example')).toBeCloseTo(110 / 15);
    expect(shareOfRate(config, 'slow.partner.example')).toBeCloseTo(5 / 15);
    expect(shareOfRate(config, 'open.partner.example')).toBeUndefined();
    expect(shareOfRate(config, 'unknown.example')).toBeUndefined();
    // Two orchestrators, each with 3 invokes: min(30, 20 + 3 x 2) = 26 workers + 2 orchestrators.
    const wide = withDefaults({
      workerMaxConcurrency: 20,
      invokeConcurrency: 3,
      orchestratorReservedConcurrency: 2,
      workerReservedConcurrency: 30,
    });
    expect(fleetInstances(wide)).toBe(28);
    // The reserved concurrency caps the workers the budget counts, and the share follows it.
    expect(fleetInstances({ ...wide, workerReservedConcurrency: 21 })).toBe(23);
  });

  it('counts the same processes as the budget', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 1000 }),
        fc.integer({ min: 1, max: 1200 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5 }),
        (
          workerMaxConcurrency,
          workerReservedConcurrency,
          invokeConcurrency,
          orchestratorReservedConcurrency,
        ) => {
          const c = withDefaults({
            workerMaxConcurrency,
            workerReservedConcurrency,
            invokeConcurrency,
            orchestratorReservedConcurrency,
          });
          const k = concurrencyOf(c);
          expect(fleetInstances(c)).toBe(k.workers + k.orchestrators);
          expect(fleetInstances(c)).toBe(
            Math.min(
              workerReservedConcurrency,
              workerMaxConcurrency + invokeConcurrency * orchestratorReservedConcurrency,
            ) + orchestratorReservedConcurrency,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('gives one process its share of each limit: concurrency rounded down (at least 1), rate and burst split', () => {
    expect(
      resolveHostLimits('h', { maxConcurrency: 22, maxRequestsPerSecond: 110, burst: 33 }, 1 / 11),
    ).toEqual({
      maxConcurrency: 2,
      maxRequestsPerSecond: 10,
      burst: 3,
      adaptive: false,
    });
    // Default burst: a tenth of a second's worth of the share, at least 1.
    expect(resolveHostLimits('h', { maxRequestsPerSecond: 1000 }, 0.5).burst).toBe(50);
    expect(resolveHostLimits('h', { maxRequestsPerSecond: 5, maxConcurrency: 3 }, 1 / 11)).toMatchObject({
      burst: 1,
      maxConcurrency: 1,
    });
    expect(resolveHostLimits('h', undefined)).toEqual({
      maxConcurrency: Number.POSITIVE_INFINITY,
      maxRequestsPerSecond: Number.POSITIVE_INFINITY,
      burst: 1,
      adaptive: false,
    });
  });

  it("reports the fleet's worst case per declared host for the budget table", () => {
    const byHost = Object.fromEntries(fleetDownstreamBudget(config).map((b) => [b.host, b]));
    // 22 over 15 processes: 1 each (floor 1.47), 15 in all. 110/s over 15: 7.33/s each, a burst of
    // ceil(0.733) = 1, so 15 at once from the fleet.
    expect(byHost['api.partner.example']).toMatchObject({ instances: 15, concurrency: 15, burst: 15 });
    expect(byHost['api.partner.example'].requestsPerSecond).toBeCloseTo(110);
    // Five requests a second over 15 processes: each keeps a burst of 1, so the fleet can send 15 at once.
    expect(byHost['slow.partner.example']).toMatchObject({
      concurrency: Number.POSITIVE_INFINITY,
      burst: 15,
    });
    expect(byHost['slow.partner.example'].requestsPerSecond).toBeCloseTo(5);
    expect(byHost['open.partner.example']).toMatchObject({ requestsPerSecond: Number.POSITIVE_INFINITY });
  });

  it('builds the policy of one worker instance from the shared config', () => {
    const policy = createDownstream(config.downstream, { share: fleetShare(config) });
    expect(policy.limitsOf('api.partner.example')).toMatchObject({ maxConcurrency: 1, adaptive: true });
    expect(policy.limitsOf('api.partner.example').maxRequestsPerSecond).toBeCloseTo(110 / 15);
    expect(policy.stats('api.partner.example').adaptive?.limit).toBe(1);
  });

  it('keeps the fleet within each host rate for any size (1,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 1e5, noNaN: true }),
        fc.integer({ min: 2, max: 1000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 10_000 }),
        (rate, workers, invokes, maxConcurrency) => {
          const c = withDefaults({
            workerMaxConcurrency: workers,
            invokeConcurrency: invokes,
            workerReservedConcurrency: workers + invokes,
            downstream: { h: { maxRequestsPerSecond: rate, maxConcurrency } },
          });
          const processes = workers + invokes + 1;
          expect(fleetInstances(c)).toBe(processes);
          const [budget] = fleetDownstreamBudget(c);
          expect(budget.requestsPerSecond).toBeCloseTo(rate, 6);
          expect(shareOfRate(c, 'h')! * processes).toBeCloseTo(rate, 6);
          expect(budget.perInstance.burst).toBeGreaterThanOrEqual(1);
          expect(budget.perInstance.maxConcurrency).toBeGreaterThanOrEqual(1);
          // Below one per process the share is raised to 1 (validateBudget refuses that); otherwise the
          // fleet stays within the cap.
          if (maxConcurrency >= processes) expect(budget.concurrency).toBeLessThanOrEqual(maxConcurrency);
          else expect(budget.concurrency).toBe(processes);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('validation', () => {
  it.each<[unknown, string]>([
    [
      { h: { maxConcurrency: 1.5 } },
      'Expected `downstream["h"].maxConcurrency` to be an integer >= 1, got 1.5',
    ],
    [
      { h: { maxRequestsPerSecond: 0 } },
      'Expected `downstream["h"].maxRequestsPerSecond` to be a finite number > 0, got 0',
    ],
    [{ h: { maxRequestsPerSecond: Number.POSITIVE_INFINITY } }, 'maxRequestsPerSecond'],
    [{ h: { burst: 0 } }, 'Expected `downstream["h"].burst` to be an integer >= 1, got 0'],
    [{ h: { adaptive: 1 } }, 'Expected `downstream["h"].adaptive` to be true or false, got 1'],
    [{ h: 5 }, 'Expected `downstream["h"]` to be an object'],
    [{ 'a b': {} }, 'host names (or host:port) as keys'],
    [[], 'Expected `downstream` to be an object of host names to limits'],
  ])('refuses %j', (downstream, message) => {
    expect(() => validateDownstream(downstream as never)).toThrow(InvalidArgumentError);
    expect(() => validateDownstream(downstream as never)).toThrow(message);
  });

  it('refuses a share outside (0, 1] and a bad workerMaxConcurrency', () => {
    expect(() => resolveHostLimits('h', {}, 0)).toThrow(/`share`/);
    expect(() => fleetInstances({ ...defaultConfig, workerMaxConcurrency: 0 })).toThrow(
      'Expected `workerMaxConcurrency` to be an integer >= 1, got 0',
    );
    expect(() => fleetInstances({ ...defaultConfig, invokeConcurrency: 1.5 })).toThrow(
      'Expected `invokeConcurrency` to be an integer >= 1, got 1.5',
    );
  });
});
