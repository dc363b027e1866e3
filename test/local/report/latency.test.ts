import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultBoundsMs, displayMs, LatencyHistogram } from '../../../local/report/latency.js';

describe('LatencyHistogram', () => {
  it('counts every latency once and estimates quantiles from above within one bucket', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 120_000, noNaN: true }), { minLength: 1, maxLength: 300 }),
        (values) => {
          const h = new LatencyHistogram();
          for (const v of values) h.record(v);
          const data = h.toJSON();
          expect(data.count).toBe(values.length);
          expect(data.counts.reduce((a, b) => a + b, 0)).toBe(values.length);
          expect(data.maxMs).toBe(Math.max(...values));
          const sorted = [...values].sort((a, b) => a - b);
          for (const q of [0.5, 0.9, 0.99]) {
            const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
            const estimate = h.quantile(q);
            expect(estimate).toBeGreaterThanOrEqual(exact);
            expect(estimate).toBeLessThanOrEqual(data.maxMs);
            // Never more than one bucket above: the next bound up from the exact value.
            const bound = defaultBoundsMs.find((b) => b >= exact) ?? data.maxMs;
            expect(estimate).toBeLessThanOrEqual(bound);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("puts a value on a bound into that bound's bucket and ignores values that are not latencies", () => {
    const h = new LatencyHistogram([10, 20]);
    for (const v of [10, 10.5, 20, 25, -1, Number.NaN, Number.POSITIVE_INFINITY]) h.record(v);
    expect(h.toJSON()).toMatchObject({ counts: [1, 2, 1], count: 4, maxMs: 25 });
    expect(new LatencyHistogram().toJSON()).toMatchObject({ count: 0, p50: 0, p99: 0, maxMs: 0 });
  });

  it('refuses bounds that do not increase', () => {
    expect(() => new LatencyHistogram([5, 5])).toThrow('Expected `boundsMs` to increase, got 5 then 5');
  });
});

describe('displayMs', () => {
  it('shows whole milliseconds, and a tenth below 10 ms: never a float’s tail', () => {
    expect(displayMs(29.800115000000005)).toBe('30');
    expect(displayMs(12.5)).toBe('13');
    expect(displayMs(2.5)).toBe('2.5');
    expect(displayMs(0.04)).toBe('0');
    expect(displayMs(9.96)).toBe('10');
  });
});
