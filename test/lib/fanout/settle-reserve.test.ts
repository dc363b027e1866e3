import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SETTLE_RESERVE_MS, settleReserveMs, taskWindowMs } from '../../../lib/fanout/settle-reserve.js';
import { RUNS } from '../../helpers/runs.js';

describe('settle reserve', () => {
  it('keeps a tenth of the invocation, rounded up, at most 5 s; tasks get the rest', () => {
    expect(MAX_SETTLE_RESERVE_MS).toBe(5_000);
    expect([1_000, 1_001, 10_000, 49_981, 50_000, 60_000, 900_000].map(settleReserveMs)).toEqual([
      100, 101, 1_000, 4_999, 5_000, 5_000, 5_000,
    ]);
    expect([1_000, 1_001, 60_000, 900_000].map(taskWindowMs)).toEqual([900, 900, 55_000, 895_000]);
  });

  it('reserve + window is the invocation, the reserve never above the cap nor below a tenth', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 900_000 }), (ms) => {
        const reserve = settleReserveMs(ms);
        expect(reserve + taskWindowMs(ms)).toBe(ms);
        expect(reserve).toBe(ms >= 50_000 ? 5_000 : Math.ceil(ms / 10));
      }),
      { numRuns: RUNS },
    );
  });
});
