// RateLimiter.refresh(key), which DownstreamPolicy.override calls when a run's override changes a host's
// rate: the tokens earned so far are kept (earned at the old rate), capped at the new burst, and from then
// on the bucket refills at the new rate. Rates and bursts come from functions of the key reading a variable
// the test changes, as the policy's do. Plus the accounting rule across refreshes, as a property.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../lib/downstream/rate-limiter.js';
import { RUNS } from '../../helpers/runs.js';
import { FakeClock, flush } from './fake-clock.js';

/** A limiter whose rate and burst are what `limits` holds when it reads them (burst undefined: the default). */
function tunable(limits: { rate: number; burst?: number }, sweepMs = 1000) {
  const clock = new FakeClock();
  const limiter = new RateLimiter({
    perSecond: () => limits.rate,
    ...(limits.burst === undefined ? {} : { burst: () => limits.burst! }),
    clock,
    sweepMs,
  });
  return { clock, limiter };
}

describe('RateLimiter.refresh', () => {
  it('does nothing for a key without a bucket: it makes none, and the key starts full at the new rate', () => {
    const limits = { rate: 2 };
    const { limiter } = tunable(limits);
    limits.rate = 5;
    limiter.refresh('never-used');
    expect(limiter.activeKeys).toBe(0);
    expect(limiter.tokens('never-used')).toBe(5);
  });

  it('keeps the tokens earned at the old rate, then refills at the new one', () => {
    const limits = { rate: 10, burst: 10 };
    const { clock, limiter } = tunable(limits);
    for (let i = 0; i < 10; i++) expect(limiter.take('k')).toBe(0);
    clock.advance(300); // 3 tokens earned at 10/s, not yet counted into the bucket
    limits.rate = 100;
    limiter.refresh('k');
    expect(clock.pending).toBe(1); // the sweep: with nobody waiting, refresh arms no timer
    expect(limiter.tokens('k')).toBeCloseTo(3, 9);
    clock.advance(20); // 2 more at 100/s
    expect(limiter.tokens('k')).toBeCloseTo(5, 9);
    for (let i = 0; i < 5; i++) expect(limiter.take('k')).toBe(0);
    expect(limiter.take('k')).toBe(10);
  });

  it('slows a key down: a lower rate makes the next token due later', () => {
    const limits = { rate: 10, burst: 1 };
    const { limiter } = tunable(limits);
    expect(limiter.take('k')).toBe(0);
    expect(limiter.take('k')).toBe(100);
    limits.rate = 0.5;
    limiter.refresh('k');
    expect(limiter.take('k')).toBe(2000);
  });

  it('caps the tokens at a lower burst, and keeps them under a higher one', () => {
    const limits = { rate: 1, burst: 8 };
    const { clock, limiter } = tunable(limits);
    expect(limiter.take('k')).toBe(0);
    limits.burst = 3;
    limiter.refresh('k');
    expect(limiter.tokens('k')).toBe(3);
    limits.burst = 20;
    limiter.refresh('k');
    expect(limiter.tokens('k')).toBe(3);
    clock.advance(100_000);
    expect(limiter.tokens('k')).toBe(20);
  });

  it('re-reads the default burst from the new rate', () => {
    const limits = { rate: 6 };
    const { clock, limiter } = tunable(limits);
    expect(limiter.take('k')).toBe(0);
    limits.rate = 2.5;
    limiter.refresh('k');
    expect(limiter.tokens('k')).toBe(3);
    limits.rate = 40;
    limiter.refresh('k');
    clock.advance(10_000);
    expect(limiter.tokens('k')).toBe(40);
  });

  it('to a rate of Infinity: the bucket keeps its burst and refills at once', () => {
    const limits = { rate: 2 };
    const { clock, limiter } = tunable(limits);
    expect([limiter.take('k'), limiter.take('k'), limiter.take('k')]).toEqual([0, 0, 500]);
    limits.rate = Number.POSITIVE_INFINITY;
    limiter.refresh('k');
    expect(limiter.take('k')).toBe(1);
    clock.advance(1);
    expect(limiter.tokens('k')).toBe(2);
    expect([limiter.take('k'), limiter.take('k'), limiter.take('k')]).toEqual([0, 0, 1]);
    // Back to a finite rate, the bucket refills at it again.
    clock.advance(1);
    limits.rate = 4;
    limiter.refresh('k');
    expect(limiter.tokens('k')).toBe(2);
    expect([limiter.take('k'), limiter.take('k'), limiter.take('k')]).toEqual([0, 0, 250]);
  });
});

/** Runs the clock timer by timer up to `until`, letting promise callbacks run at each timer's own time. */
async function drain(clock: FakeClock, until: number): Promise<void> {
  await flush();
  for (let next = clock.nextAt(); next !== undefined && next <= until; next = clock.nextAt()) {
    clock.advance(next - clock.now());
    await flush();
  }
}

describe('RateLimiter.refresh with acquire waiters queued', () => {
  it.each([
    [100, [10, 20]],
    [Number.POSITIVE_INFINITY, [1, 2]],
  ])('serves them at the new rate %s, not when the old rate would have', async (rate, expected) => {
    const limits = { rate: 1, burst: 1 };
    const { clock, limiter } = tunable(limits, 60_000);
    expect(limiter.take('k')).toBe(0);
    const granted: number[] = [];
    const waiters = [limiter.acquire('k'), limiter.acquire('k')].map((w) =>
      w.then(() => granted.push(clock.now())),
    );
    expect(clock.nextAt()).toBe(1000);
    limits.rate = rate;
    limiter.refresh('k');
    expect(clock.pending).toBe(2); // the sweep and the key's one timer, re-armed
    await drain(clock, 2000);
    await Promise.all(waiters);
    expect(granted).toEqual(expected);
  });

  it('a lower rate serves them later, from the tokens earned so far', async () => {
    const limits = { rate: 10, burst: 1 };
    const { clock, limiter } = tunable(limits, 60_000);
    expect(limiter.take('k')).toBe(0);
    const granted: number[] = [];
    const waiter = limiter.acquire('k').then(() => granted.push(clock.now()));
    clock.advance(50); // half a token earned at 10/s
    limits.rate = 1;
    limiter.refresh('k');
    await drain(clock, 5000);
    await waiter;
    expect(granted).toEqual([550]);
  });
});

const stepArb = fc.record({
  gap: fc.integer({ min: 0, max: 400 }),
  refresh: fc.option(
    fc.record({
      rate: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0.2, max: 50, noNaN: true })),
      burst: fc.integer({ min: 1, max: 6 }),
    }),
    { nil: undefined },
  ),
  takes: fc.integer({ min: 0, max: 4 }),
});

describe('RateLimiter.refresh: properties', () => {
  it('over any window, grants at most the tokens earned at the rates in force plus the burst at its start, never above the burst in force (1,000 runs)', async () => {
    await fc.assert(
      fc.property(
        fc.double({ min: 0.2, max: 50, noNaN: true }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
        fc.array(stepArb, { maxLength: 40 }),
        (rate, burst, steps) => {
          const limits = { rate, burst };
          // No sweep: a swept key starts over full at the new burst, which this rule does not cover (a burst
          // raised on a key that was quiet long enough lets the new burst through at once).
          const { clock, limiter } = tunable(limits, 1e12);
          const burstNow = () => limits.burst ?? Math.max(1, Math.ceil(limits.rate));
          // The rate in force from each time on, and each grant's time with the burst in force at it.
          const rates: { from: number; rate: number }[] = [{ from: 0, rate }];
          const grants: { at: number; burst: number }[] = [];
          for (const step of steps) {
            clock.advance(step.gap);
            if (step.refresh) {
              limits.rate = step.refresh.rate;
              // A limiter made with the default burst keeps it; one with a burst function gets a new size.
              if (limits.burst !== undefined) limits.burst = step.refresh.burst;
              limiter.refresh('k');
              rates.push({ from: clock.now(), rate: limits.rate });
            }
            for (let i = 0; i < step.takes; i++) {
              if (limiter.take('k') === 0) grants.push({ at: clock.now(), burst: burstNow() });
            }
            expect(limiter.tokens('k')).toBeLessThanOrEqual(burstNow());
            expect(limiter.tokens('k')).toBeGreaterThan(-1e-6);
          }
          const earned = (from: number, to: number) =>
            rates.reduce((sum, r, i) => {
              const end = Math.min(to, rates[i + 1]?.from ?? to);
              return sum + (Math.max(0, end - Math.max(from, r.from)) * r.rate) / 1000;
            }, 0);
          for (let i = 0; i < grants.length; i++) {
            for (let j = i; j < grants.length; j++) {
              expect(j - i + 1).toBeLessThanOrEqual(
                earned(grants[i].at, grants[j].at) + grants[i].burst + 1e-6,
              );
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
