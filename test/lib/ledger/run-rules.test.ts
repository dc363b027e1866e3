import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OverlapPolicies } from '../../../lib/config.js';
import { type RunRecord, RunStatuses, zeroCounts } from '../../../lib/ledger/run-record.js';
import {
  acceptsTasks,
  budgetExceeded,
  finalStatus,
  isComplete,
  overlapAction,
  settledCount,
} from '../../../lib/ledger/run-rules.js';

const run = (over: Partial<RunRecord> = {}): RunRecord => ({
  jobId: 'j',
  runId: 'r',
  status: RunStatuses.RUNNING,
  startedAt: 1,
  manifestDone: true,
  toleratedFailurePercent: 100,
  version: 1,
  ...zeroCounts(),
  ...over,
});

const counts = fc.record({
  succeeded: fc.nat(50),
  deadLettered: fc.nat(50),
  undeliverable: fc.nat(5),
  invalid: fc.nat(50),
  cancelled: fc.nat(50),
});

describe('run rules', () => {
  it('a run is complete only when the manifest is done and every submitted task has ended, and only once', () => {
    fc.assert(
      fc.property(counts, fc.nat(10), fc.boolean(), fc.boolean(), (c, extra, done, finished) => {
        const settled = c.succeeded + c.deadLettered + c.undeliverable + c.invalid + c.cancelled;
        const r = run({
          ...c,
          submitted: settled + extra,
          manifestDone: done,
          ...(finished ? { finishedAt: 2 } : {}),
        });
        expect(settledCount(r)).toBe(settled);
        expect(isComplete(r)).toBe(done && extra === 0 && !finished);
      }),
    );
  });

  it('the fleet budget trips exactly when failed * 100 > tolerated * finished, never at 100', () => {
    fc.assert(
      fc.property(counts, fc.integer({ min: 0, max: 100 }), (c, tolerated) => {
        const failed = c.deadLettered + c.undeliverable;
        const finished = c.succeeded + failed;
        const want = tolerated < 100 && failed * 100 > tolerated * finished;
        expect(budgetExceeded({ ...c, submitted: 0 }, tolerated)).toBe(want);
      }),
    );
    // Invalid lines are the manifest's fault: they never trip it.
    expect(budgetExceeded({ ...zeroCounts(), invalid: 10, succeeded: 1 }, 0)).toBe(false);
    expect(budgetExceeded({ ...zeroCounts(), deadLettered: 1, succeeded: 9 }, 10)).toBe(false);
    expect(budgetExceeded({ ...zeroCounts(), deadLettered: 2, succeeded: 8 }, 10)).toBe(true);
  });

  it('ends succeeded, partial or failed by the counts; a failed or cancelled run keeps its status', () => {
    expect(finalStatus(run({ submitted: 3, succeeded: 3 }))).toEqual({ status: 'succeeded' });
    expect(finalStatus(run({ submitted: 3, succeeded: 2, invalid: 1 }))).toEqual({ status: 'partial' });
    expect(finalStatus(run({ submitted: 3, succeeded: 2, deadLettered: 1 }))).toEqual({ status: 'partial' });
    expect(finalStatus(run({ submitted: 3, succeeded: 2, undeliverable: 1 }))).toEqual({
      status: 'failed',
      reason: 'undeliverable',
    });
    expect(
      finalStatus(run({ submitted: 3, succeeded: 1, deadLettered: 2, toleratedFailurePercent: 50 })),
    ).toEqual({ status: 'failed', reason: 'failure-budget' });
    expect(
      finalStatus(run({ status: 'cancelled', reason: 'cancelled', submitted: 3, succeeded: 3 })),
    ).toEqual({ status: 'cancelled', reason: 'cancelled' });
    expect(finalStatus(run({ status: 'failed', reason: 'manifest-error', succeeded: 1 }))).toEqual({
      status: 'failed',
      reason: 'manifest-error',
    });
    // A paused run that completes (its last tasks settled before the pause bit) ends by its counts.
    expect(finalStatus(run({ status: 'paused', submitted: 1, succeeded: 1 }))).toEqual({
      status: 'succeeded',
    });
  });

  it('only a running run starts tasks', () => {
    for (const status of Object.values(RunStatuses)) expect(acceptsTasks(status)).toBe(status === 'running');
  });

  it('overlap: forbid skips, replace replaces, allow starts, and a finished previous run never blocks', () => {
    const live = run({ status: 'running' });
    const paused = run({ status: 'paused' });
    const done = run({ status: 'succeeded', finishedAt: 5 });
    expect(overlapAction(OverlapPolicies.FORBID, undefined)).toBe('start');
    expect(overlapAction(OverlapPolicies.FORBID, live)).toBe('skip');
    expect(overlapAction(OverlapPolicies.FORBID, paused)).toBe('skip');
    expect(overlapAction(OverlapPolicies.FORBID, done)).toBe('start');
    expect(overlapAction(OverlapPolicies.REPLACE, live)).toBe('replace');
    expect(overlapAction(OverlapPolicies.REPLACE, done)).toBe('start');
    expect(overlapAction(OverlapPolicies.ALLOW, live)).toBe('start');
  });
  it('a run with a finish time is never complete again, whatever its counts', () => {
    expect(isComplete(run({ submitted: 2, succeeded: 2 }))).toBe(true);
    expect(isComplete(run({ submitted: 2, succeeded: 2, finishedAt: 3 }))).toBe(false);
    expect(isComplete(run({ submitted: 2, succeeded: 2, manifestDone: false }))).toBe(false);
    expect(isComplete(run({ submitted: 3, succeeded: 2 }))).toBe(false);
  });

  it('a failed or cancelled run keeps its reason, or has none; a manifest error fails a running run', () => {
    // The counts alone would say succeeded: the status and reason already written win.
    expect(
      finalStatus(run({ status: 'failed', reason: 'failure-budget', submitted: 1, succeeded: 1 })),
    ).toEqual({
      status: 'failed',
      reason: 'failure-budget',
    });
    expect(finalStatus(run({ status: 'cancelled', submitted: 1, succeeded: 1 }))).toStrictEqual({
      status: 'cancelled',
    });
    expect(finalStatus(run({ status: 'failed', submitted: 1, succeeded: 1 }))).toStrictEqual({
      status: 'failed',
    });
    expect(finalStatus(run({ reason: 'manifest-error', submitted: 1, succeeded: 1 }))).toStrictEqual({
      status: 'failed',
      reason: 'manifest-error',
    });
  });
});
