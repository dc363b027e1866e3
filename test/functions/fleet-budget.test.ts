// The orchestrator's failure budget on the fleet's counts (functions/fleet-budget.ts), as a property: for any
// run record (the fleet's settled counts), any cached copy of it (stale, or none), any tolerance and any
// sequence of the segment's own outcomes, the budget trips exactly when, at some own failure, the fleet's
// fresh counts plus the own ones so far exceed the tolerated share; a stale cache never trips it alone. The
// ledger is a FAKE (a store that answers the fleet's record, a control that caches one): the real one is in
// test/functions/ledger.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetBudget } from '../../functions/fleet-budget.js';
import type { RunLedger } from '../../functions/run-ledger.js';
import { type RunRecord, zeroCounts } from '../../lib/ledger/run-record.js';
import { RUNS } from '../helpers/runs.js';

const counts = fc.record({
  succeeded: fc.nat({ max: 50 }),
  deadLettered: fc.nat({ max: 20 }),
  undeliverable: fc.nat({ max: 5 }),
});

function record(c: { succeeded: number; deadLettered: number; undeliverable: number }): RunRecord {
  return {
    ...zeroCounts(),
    ...c,
    jobId: 'j',
    runId: 'r',
    status: 'running',
    startedAt: 1,
    manifestDone: false,
    toleratedFailurePercent: 0,
    version: 1,
  };
}

/** A FAKE RunLedger: `getRun` answers the fleet's record, `peek` the cached copy, `note` replaces it. */
function fakeLedger(fleet: RunRecord, cached: RunRecord | undefined) {
  let cache = cached;
  let reads = 0;
  const ledger = {
    store: {
      getRun: async () => {
        reads++;
        return fleet;
      },
    },
    control: {
      peek: () => cache,
      note: (r: RunRecord | undefined) => {
        cache = r;
      },
    },
  } as unknown as RunLedger;
  return { ledger, reads: () => reads };
}

const exceeds = (failed: number, finished: number, tolerated: number) => failed * 100 > tolerated * finished;

describe('FleetBudget: the orchestrator’s own failures judged on the fleet’s counts', () => {
  it('trips exactly when, at some own failure, the fresh fleet counts plus its own exceed the tolerance', async () => {
    await fc.assert(
      fc.asyncProperty(
        counts,
        fc.option(counts, { nil: undefined }),
        fc.integer({ min: 0, max: 100 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        async (fleetCounts, cachedCounts, tolerated, outcomes) => {
          const fleet = record(fleetCounts);
          const { ledger, reads } = fakeLedger(fleet, cachedCounts && record(cachedCounts));
          const budget = new FleetBudget(tolerated, ledger, 'j', 'r', 0);
          const fleetFailed = fleet.deadLettered + fleet.undeliverable;
          const fleetFinished = fleet.succeeded + fleetFailed;
          let expected = false;
          let cache = cachedCounts && record(cachedCounts);
          let own = { failed: 0, finished: 0 };
          for (const ok of outcomes) {
            own = { failed: own.failed + (ok ? 0 : 1), finished: own.finished + 1 };
            budget.record(ok);
            // Each judgement ends before the next outcome: one read, answered at once.
            await new Promise((resolve) => setImmediate(resolve));
            if (ok || expected || tolerated >= 100) continue;
            const cachedFailed = (cache?.deadLettered ?? 0) + (cache?.undeliverable ?? 0);
            const cachedFinished = (cache?.succeeded ?? 0) + cachedFailed;
            if (!exceeds(cachedFailed + own.failed, cachedFinished + own.finished, tolerated)) continue;
            cache = fleet; // the fresh read replaces the cached copy
            expected = exceeds(fleetFailed + own.failed, fleetFinished + own.finished, tolerated);
          }
          expect(budget.tripped).toBe(expected);
          expect(budget.counts).toEqual(own);
          // A read only for a failure that would trip on the cache: never one per task.
          expect(reads()).toBeLessThanOrEqual(own.failed);
          if (tolerated >= 100) expect(reads()).toBe(0);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a stale cache that says the run failed much does not trip it: the fresh counts do not', async () => {
    const { ledger, reads } = fakeLedger(
      record({ succeeded: 1000, deadLettered: 0, undeliverable: 0 }),
      record({ succeeded: 0, deadLettered: 0, undeliverable: 0 }),
    );
    const budget = new FleetBudget(10, ledger, 'j', 'r', 0);
    budget.record(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect({ tripped: budget.tripped, reads: reads() }).toEqual({ tripped: false, reads: 1 });
  });
});
