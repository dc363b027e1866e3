import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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

const config = withDefaults({
  workerMaxConcurrency: 10,
  downstream: {
    'api.partner.example': { maxConcurrency: 22, maxRequestsPerSecond: 110, adaptive: true },
    'slow.partner.example': { maxRequestsPerSecond: 5 },
    'open.partner.example': {},
  },
});

describe('fleet share', () => {
  it('splits a host among the worker instances plus the orchestrator', () => {
    expect(fleetInstances(config)).toBe(11);
    expect(fleetShare(config)).toBeCloseTo(1 / 11);
    expect(shareOfRate(config, 'api.partner.example')).toBeCloseTo(10);
    expect(shareOfRate(config, 'slow.partner.example')).toBeCloseTo(5 / 11);
    expect(shareOfRate(config, 'open.partner.example')).toBeUndefined();
    expect(shareOfRate(config, 'unknown.example')).toBeUndefined();
    expect(fleetInstances(defaultConfig)).toBe(defaultConfig.workerMaxConcurrency + 1);
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
    expect(byHost['api.partner.example']).toMatchObject({ instances: 11, concurrency: 22, burst: 11 });
    expect(byHost['api.partner.example'].requestsPerSecond).toBeCloseTo(110);
    // Five requests a second over 11 processes: each keeps a burst of 1, so the fleet can send 11 at once.
    expect(byHost['slow.partner.example']).toMatchObject({
      concurrency: Number.POSITIVE_INFINITY,
      burst: 11,
    });
    expect(byHost['slow.partner.example'].requestsPerSecond).toBeCloseTo(5);
    expect(byHost['open.partner.example']).toMatchObject({ requestsPerSecond: Number.POSITIVE_INFINITY });
  });

  it('builds the policy of one worker instance from the shared config', () => {
    const policy = createDownstream(config.downstream, { share: fleetShare(config) });
    expect(policy.limitsOf('api.partner.example')).toMatchObject({ maxConcurrency: 2, adaptive: true });
    expect(policy.limitsOf('api.partner.example').maxRequestsPerSecond).toBeCloseTo(10);
    expect(policy.stats('api.partner.example').adaptive?.limit).toBe(2);
  });

  it('keeps the fleet within each host rate for any size (1,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 1e5, noNaN: true }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 10_000 }),
        (rate, workers, maxConcurrency) => {
          const c = withDefaults({
            workerMaxConcurrency: workers,
            downstream: { h: { maxRequestsPerSecond: rate, maxConcurrency } },
          });
          const [budget] = fleetDownstreamBudget(c);
          expect(budget.requestsPerSecond).toBeCloseTo(rate, 6);
          expect(shareOfRate(c, 'h')! * (workers + 1)).toBeCloseTo(rate, 6);
          expect(budget.perInstance.burst).toBeGreaterThanOrEqual(1);
          expect(budget.perInstance.maxConcurrency).toBeGreaterThanOrEqual(1);
          // Below one per process the share is raised to 1; otherwise the fleet stays within the cap.
          if (maxConcurrency >= workers + 1) expect(budget.concurrency).toBeLessThanOrEqual(maxConcurrency);
        },
      ),
      { numRuns: 1000 },
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
    expect(() => fleetInstances({ workerMaxConcurrency: 0 })).toThrow(/`workerMaxConcurrency`/);
  });
});
