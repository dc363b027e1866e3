import { describe, expect, it } from 'vitest';
import { FailureBudget } from '../../../lib/fanout/failure-budget.js';

describe('FailureBudget: options and carried counts', () => {
  it('refuses a tolerated percent that is not a number from 0 to 100, naming it', () => {
    for (const bad of [-1, -0.5, 100.5, Number.NaN, '50', null]) {
      expect(() => new FailureBudget(bad as number)).toThrow(
        `Expected \`toleratedFailurePercent\` to be a number from 0 to 100, got ${bad === '50' ? '"50"' : String(bad)}`,
      );
    }
    expect(new FailureBudget(0).toleratedFailurePercent).toBe(0);
    expect(new FailureBudget(100).toleratedFailurePercent).toBe(100);
    expect(new FailureBudget(12.5).toleratedFailurePercent).toBe(12.5);
  });

  it('carries the counts it was given and reports them as they grow', () => {
    const b = new FailureBudget(50, { finished: 4, failed: 1 });
    expect(b.counts).toEqual({ finished: 4, failed: 1 });
    b.record(false);
    b.record(true);
    expect(b.counts).toEqual({ finished: 6, failed: 2 });
    expect(new FailureBudget(50).counts).toEqual({ finished: 0, failed: 0 });
  });

  it('100 never trips, whatever counts it carries over', () => {
    expect(new FailureBudget(100, { finished: 0, failed: 3 }).tripped).toBe(false);
    expect(new FailureBudget(99, { finished: 0, failed: 3 }).tripped).toBe(true);
  });
});
