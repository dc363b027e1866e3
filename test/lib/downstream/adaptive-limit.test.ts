import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AdaptiveLimit,
  type AdaptiveLimitOptions,
  type AdaptiveOutcome,
} from '../../../lib/downstream/adaptive-limit.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { RUNS } from '../../helpers/runs.js';
import { FakeClock } from './fake-clock.js';
import { simulate } from './simulated-partner.js';

function make(options: Partial<AdaptiveLimitOptions> = {}) {
  const clock = new FakeClock();
  const changes: [string, number][] = [];
  const limit = new AdaptiveLimit({
    ceiling: 32,
    clock,
    onChange: (key, n) => changes.push([key, n]),
    ...options,
  });
  return { clock, changes, limit };
}

const ok = (latencyMs = 10, inFlight?: number): AdaptiveOutcome => ({ status: 200, latencyMs, inFlight });

describe('AdaptiveLimit: bad input', () => {
  it.each<[Partial<AdaptiveLimitOptions>, RegExp]>([
    [{ ceiling: 0 }, /`ceiling`/],
    [{ ceiling: 4, floor: 5 }, /Expected `ceiling` to be an integer >= 5, got 4/],
    [
      { ceiling: 4, initial: 9 },
      /Expected `initial` to be an integer from floor \(1\) to ceiling \(4\), got 9/,
    ],
    [{ ceiling: 4, decrease: 1 }, /`decrease`/],
    [{ ceiling: 4, decrease: 0 }, /`decrease`/],
    [{ ceiling: 4, latencyFactor: 1 }, /`latencyFactor`/],
    [{ ceiling: 4, probeAfter: 0 }, /`probeAfter`/],
    [{ ceiling: 4, overloadStatuses: [429, 42] }, /`overloadStatuses`/],
    [{ ceiling: 4, maxKeys: 0 }, /`maxKeys`/],
    [{ ceiling: 4, onChange: 3 as never }, /`onChange`/],
  ])('refuses %j', (options, message) => {
    expect(() => new AdaptiveLimit(options as AdaptiveLimitOptions)).toThrow(InvalidArgumentError);
    expect(() => new AdaptiveLimit(options as AdaptiveLimitOptions)).toThrow(message);
  });

  it('refuses an outcome without a latency, and a negative pause', () => {
    const { limit } = make();
    expect(() => limit.observe('k', { status: 200 } as AdaptiveOutcome)).toThrow(/`outcome.latencyMs`/);
    expect(() => limit.pause('k', -1)).toThrow(/`ms`/);
  });
});

describe('AdaptiveLimit: AIMD', () => {
  it('slow start: each success adds one from `initial` until the first overload, which halves it', () => {
    const { limit, changes } = make({ initial: 4 });
    expect(limit.limitOf('k')).toBe(4);
    for (let i = 0; i < 6; i++) expect(limit.observe('k', ok())).toBe('increase');
    expect(limit.limitOf('k')).toBe(10);
    expect(limit.observe('k', { status: 429, latencyMs: 1 })).toBe('decrease');
    expect(limit.limitOf('k')).toBe(5);
    expect(limit.stats('k').slowStart).toBe(false);
    expect(changes.map(([, n]) => n)).toEqual([5, 6, 7, 8, 9, 10, 5]);
  });

  it('congestion avoidance: a window of successes adds one, an overload multiplies by `decrease` (at least -1)', () => {
    const { limit, clock } = make({ initial: 4, decrease: 0.9 });
    limit.observe('k', { status: 503, latencyMs: 1 }); // leaves slow start at 2
    expect(limit.limitOf('k')).toBe(2);
    clock.advance(10);
    // Far below the last overload point (4): +1 per `limit` successes.
    for (let i = 0; i < 2; i++) limit.observe('k', ok(5));
    expect(limit.limitOf('k')).toBe(3);
    clock.advance(100);
    expect(limit.observe('k', { status: 429, latencyMs: 5 })).toBe('decrease');
    expect(limit.limitOf('k')).toBe(2); // floor(3 * 0.9) = 2
  });

  it('cuts once per round trip: overloads from requests sent before the last cut change nothing', () => {
    const { limit, clock } = make({ initial: 16 });
    clock.advance(1000);
    expect(limit.observe('k', { status: 429, latencyMs: 50 })).toBe('decrease');
    expect(limit.limitOf('k')).toBe(8);
    clock.advance(10);
    // Sent 50 ms ago, before the cut 10 ms ago: stale.
    for (let i = 0; i < 5; i++) expect(limit.observe('k', { status: 429, latencyMs: 50 })).toBe('hold');
    expect(limit.limitOf('k')).toBe(8);
    // Sent after the cut: news.
    expect(limit.observe('k', { status: 429, latencyMs: 5 })).toBe('decrease');
    expect(limit.limitOf('k')).toBe(7);
  });

  it('probes past the last overload point only after `probeAfter` successes', () => {
    const { limit, clock } = make({ initial: 10, probeAfter: 50 });
    limit.observe('k', { status: 429, latencyMs: 1 }); // 10 -> 5, overloaded at 10
    clock.advance(10);
    let successes = 0;
    while (limit.limitOf('k') < 9) {
      limit.observe('k', ok());
      successes++;
    }
    expect(successes).toBe(5 + 6 + 7 + 8); // +1 per window while far from 10
    for (let i = 0; i < 49; i++) limit.observe('k', ok());
    expect(limit.limitOf('k')).toBe(9);
    limit.observe('k', ok());
    expect(limit.limitOf('k')).toBe(10);
    for (let i = 0; i < 50; i++) limit.observe('k', ok());
    expect(limit.limitOf('k')).toBe(11); // past the old point: the partner grew, normal pace again
    for (let i = 0; i < 11; i++) limit.observe('k', ok());
    expect(limit.limitOf('k')).toBe(12);
  });

  it('stays within floor and ceiling', () => {
    const { limit, clock } = make({ floor: 2, ceiling: 6, initial: 2 });
    for (let i = 0; i < 100; i++) limit.observe('k', ok());
    expect(limit.limitOf('k')).toBe(6);
    for (let i = 0; i < 20; i++) {
      clock.advance(100);
      limit.observe('k', { status: 429, latencyMs: 1 });
    }
    expect(limit.limitOf('k')).toBe(2);
  });

  it('counts timeouts as overload; other 5xx and network errors change nothing; other 4xx are successes', () => {
    const { limit, clock } = make({ initial: 8 });
    expect(limit.observe('k', { status: 500, latencyMs: 1 })).toBe('hold');
    expect(limit.observe('k', { latencyMs: 1 })).toBe('hold');
    expect(limit.observe('k', { status: 404, latencyMs: 1 })).toBe('increase');
    clock.advance(10);
    expect(limit.observe('k', { timedOut: true, latencyMs: 5 })).toBe('decrease');
  });

  it('does not raise a limit that is not in use (fewer than half in flight)', () => {
    const { limit } = make({ initial: 8 });
    expect(limit.observe('k', ok(10, 3))).toBe('hold');
    expect(limit.observe('k', ok(10, 4))).toBe('increase');
  });

  it('cuts when recent latency climbs well above the baseline, then needs fresh evidence', () => {
    const { limit, clock } = make({ initial: 20, latencyFactor: 3, minSamples: 20 });
    for (let i = 0; i < 30; i++) limit.observe('k', ok(10));
    const before = limit.limitOf('k');
    expect(limit.stats('k').baselineMs).toBeCloseTo(10);
    clock.advance(1000);
    const verdicts = Array.from({ length: 10 }, () => limit.observe('k', ok(60)));
    // Not on one slow sample: the second cuts (halves the limit); then the window must refill with samples
    // taken after the cut before the next verdict, so the rest hold.
    expect(verdicts).toEqual(['hold', 'decrease', ...Array(8).fill('hold')]);
    expect(before).toBe(32);
    expect(limit.limitOf('k')).toBe(16);
  });

  it('never cuts on latency with latencyFactor Infinity', () => {
    const { limit } = make({ initial: 4, latencyFactor: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 30; i++) limit.observe('k', ok(10));
    for (let i = 0; i < 30; i++) expect(limit.observe('k', ok(1000))).not.toBe('decrease');
  });
});

describe('AdaptiveLimit: Retry-After and memory', () => {
  it('pauses the key for Retry-After on a 429, capped at maxPauseMs, leaving other keys alone', () => {
    const { limit, clock } = make({ maxPauseMs: 5000 });
    limit.observe('a', { status: 429, latencyMs: 1, retryAfterMs: 2000 });
    expect(limit.pausedFor('a')).toBe(2000);
    expect(limit.pausedFor('b')).toBe(0);
    clock.advance(1500);
    expect(limit.pausedFor('a')).toBe(500);
    clock.advance(500);
    expect(limit.pausedFor('a')).toBe(0);
    limit.observe('a', { status: 503, latencyMs: 1, retryAfterMs: 60_000 });
    expect(limit.pausedFor('a')).toBe(5000);
    // Retry-After on a success (a redirect's, say) is not a pause.
    limit.observe('b', { status: 200, latencyMs: 1, retryAfterMs: 9000 });
    expect(limit.pausedFor('b')).toBe(0);
  });

  it('remembers at most maxKeys keys, least recently observed forgotten first', () => {
    const { limit } = make({ maxKeys: 100, initial: 4 });
    for (let i = 0; i < 1000; i++) limit.observe(`k${i}`, ok());
    expect(limit.size).toBe(100);
    expect(limit.limitOf('k999')).toBe(5);
    expect(limit.limitOf('k0')).toBe(4);
  });
});

const outcomeArb = fc.oneof(
  fc.record({
    status: fc.constantFrom(200, 201, 404, 429, 500, 503),
    latencyMs: fc.integer({ min: 0, max: 200 }),
  }),
  fc.record({ timedOut: fc.constant(true), latencyMs: fc.integer({ min: 0, max: 200 }) }),
  fc.record({ latencyMs: fc.integer({ min: 0, max: 200 }) }),
  fc.record({ status: fc.constant(429), latencyMs: fc.nat(50), retryAfterMs: fc.nat(10_000) }),
);

describe('AdaptiveLimit: properties', () => {
  it('keeps every limit an integer within [floor, ceiling] and reports each change exactly (1,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(
          fc.tuple(
            fc.constantFrom('a', 'b'),
            outcomeArb,
            fc.nat(30),
            fc.option(fc.nat(64), { nil: undefined }),
          ),
          {
            maxLength: 200,
          },
        ),
        (floor, extra, steps) => {
          const ceiling = floor + extra;
          const { limit, clock, changes } = make({ floor, ceiling, initial: floor, maxPauseMs: 3000 });
          const seen = new Map<string, number>();
          for (const [key, outcome, wait, inFlight] of steps) {
            clock.advance(wait);
            const before = limit.limitOf(key);
            const verdict = limit.observe(key, { ...outcome, inFlight });
            const after = limit.limitOf(key);
            expect(Number.isInteger(after)).toBe(true);
            expect(after).toBeGreaterThanOrEqual(floor);
            expect(after).toBeLessThanOrEqual(ceiling);
            expect(verdict).toBe(after > before ? 'increase' : after < before ? 'decrease' : 'hold');
            if (after > before) expect(after).toBe(before + 1);
            if (after !== before) seen.set(key, after);
            expect(limit.pausedFor(key)).toBeLessThanOrEqual(3000);
          }
          const last = new Map<string, number>();
          for (const [key, n] of changes) last.set(key, n);
          expect(last).toEqual(seen);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('AdaptiveLimit: the control loop against simulated partners (fake clock)', () => {
  it.each([
    { concurrency: 1, serviceMs: 20 },
    { concurrency: 3, serviceMs: 20 },
    { concurrency: 8, serviceMs: 20 },
    { concurrency: 20, serviceMs: 20 },
    { perSecond: 300, burst: 10, serviceMs: 20 },
    { perSecond: 1000, burst: 20, serviceMs: 20 },
  ])('holds %j to its capacity: <= 1% 429s after warm-up, goodput >= 0.9 of capacity', async (capacity) => {
    const result = await simulate(capacity, { tasks: 3000 });
    expect(result.rejectedShareAfterWarmUp).toBeLessThanOrEqual(0.01);
    expect(result.goodputRatio).toBeGreaterThanOrEqual(0.9);
  });

  it('a fixed limit at twice the capacity gets many 429s', async () => {
    const result = await simulate({ concurrency: 8, serviceMs: 20 }, { tasks: 2000, fixedLimit: 16 });
    expect(result.rejectedShareAfterWarmUp).toBeGreaterThan(0.05);
  });
});
