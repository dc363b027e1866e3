import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_SETTLE_RESERVE_MS,
  MIN_SETTLE_RESERVE_MS,
  settleReserveMs,
  taskWindowMs,
} from '../../../lib/fanout/settle-reserve.js';
import { RUNS } from '../../helpers/runs.js';

describe('settle reserve', () => {
  it('keeps a tenth of the invocation, rounded up, at most 5 s, at least a quarter up to 1 s; tasks get the rest', () => {
    expect(MAX_SETTLE_RESERVE_MS).toBe(5_000);
    expect(MIN_SETTLE_RESERVE_MS).toBe(1_000);
    expect(
      [1_000, 1_001, 2_000, 4_000, 10_000, 10_001, 49_981, 50_000, 60_000, 900_000].map(settleReserveMs),
    ).toEqual([250, 250, 500, 1_000, 1_000, 1_001, 4_999, 5_000, 5_000, 5_000]);
    expect([1_000, 1_001, 2_000, 60_000, 900_000].map(taskWindowMs)).toEqual([
      750, 751, 1_500, 55_000, 895_000,
    ]);
  });

  it('reserve + window is the invocation; the reserve is the tenth, the floor or the cap, whichever rules', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 900_000 }), (ms) => {
        const reserve = settleReserveMs(ms);
        expect(reserve + taskWindowMs(ms)).toBe(ms);
        const tenth = Math.ceil(ms / 10);
        const floor = Math.min(1_000, Math.floor(ms / 4));
        expect(reserve).toBe(Math.min(5_000, Math.max(tenth, floor)));
        expect(reserve).toBeLessThanOrEqual(5_000);
        expect(reserve).toBeGreaterThanOrEqual(Math.min(tenth, 5_000));
        // Tasks always keep most of the invocation: at least three quarters of it.
        expect(taskWindowMs(ms)).toBeGreaterThanOrEqual(Math.floor((ms * 3) / 4));
      }),
      { numRuns: RUNS },
    );
  });
});
