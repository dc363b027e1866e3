// A segment's failure counts only through the settle that counts, on the real store (the front over dynalite,
// or LocalStack) through the real SDK. Copies of a run's last segment each saw their own outcome (a broken
// manifest, the budget tripped on their own tasks, or neither) and race their settles against the workers'
// settles of the queued tasks; every settler then does what a real one does with the record it got back
// (afterSettle: the status change the record calls for, and the end). The run ends exactly once, as the
// winning copy's outcome says and never as a losing copy's.
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { afterSettle, failureChange } from '../../../lib/ledger/after-settle.js';
import type { SettleInput } from '../../../lib/ledger/job-ledger.js';
import { RunReasons, type RunRecord, type SegmentFailure } from '../../../lib/ledger/run-record.js';
import { RUNS } from '../../helpers/runs.js';
import { freshJobTable } from '../../local/fixtures/aws.js';

let client: DynamoDBClient;
let tableName: string;
const clock = 1_000_000;
const CONTAINERS = 3;
let stores: JobLedgerTable[];

beforeAll(async () => {
  ({ client, tableName } = await freshJobTable('segment-failure'));
  stores = Array.from(
    { length: CONTAINERS },
    () => new JobLedgerTable(client, { tableName, retentionDays: 7, now: () => clock }),
  );
});
afterAll(() => client?.destroy());

const FAILURES: readonly (SegmentFailure | undefined)[] = [
  undefined,
  { reason: RunReasons.MANIFEST_ERROR, detail: 'line 3: not JSON' },
  { reason: RunReasons.FAILURE_BUDGET, detail: '1 of 1 tasks the orchestrator finished failed' },
];

/** The end a run whose counting segment failed so (all its tasks succeeded) must have. */
function expectedEnd(failure: SegmentFailure | undefined) {
  if (!failure) return { status: 'succeeded', reason: undefined };
  return { status: 'failed', reason: failure.reason };
}

describe('a segment failure kept by its settle', () => {
  it('ends the run as the winning copy saw it, whatever the order of the copies’ and workers’ settles', async () => {
    const plan = fc.record({
      copies: fc.array(fc.constantFrom(...FAILURES), { minLength: 2, maxLength: 3 }),
      queued: fc.integer({ min: 0, max: 3 }),
      via: fc.array(fc.integer({ min: 0, max: CONTAINERS - 1 }), { minLength: 6, maxLength: 6 }),
    });
    await fc.assert(
      fc.asyncProperty(plan, fc.scheduler(), async ({ copies, queued, via }, s) => {
        const jobId = `job-${randomBytes(4).toString('hex')}`;
        const [runId, toleratedFailurePercent, overlap] = ['r', 0, 'forbid' as const];
        await stores[0].startRun({ jobId, runId, startedAt: clock, toleratedFailurePercent, overlap });
        // Each copy ran 1 inline task (succeeded) and queued `queued` tasks, one message each.
        const segment = (failure: SegmentFailure | undefined): SettleInput => ({
          jobId,
          runId,
          key: 'segment:0',
          delta: { submitted: 1 + queued, succeeded: 1 },
          manifestDone: true,
          state: { copy: String(copies.indexOf(failure)) },
          ...(failure ? { failure } : {}),
        });
        const message = (i: number): SettleInput => ({ jobId, runId, key: `m${i}`, delta: { succeeded: 1 } });
        const inputs = [...copies.map(segment), ...Array.from({ length: queued }, (_, i) => message(i))];
        const wins: RunRecord[] = [];
        const settle = s.scheduleFunction(async (input: SettleInput, c: number) => {
          const { applied, record } = await stores[c].settle(input);
          const after = await afterSettle(record, { ledger: stores[c] });
          if (after.finished && after.record) wins.push(after.record);
          return applied;
        });
        const applied = await s.waitFor(Promise.all(inputs.map((input, i) => settle(input, via[i]))));
        const winner = copies[applied.findIndex((a, i) => a && i < copies.length)];
        const final = (await stores[0].getRun(jobId, runId))!;
        expect(wins).toHaveLength(1);
        expect(final).toMatchObject({ submitted: 1 + queued, succeeded: 1 + queued, finishedAt: clock });
        expect({ status: final.status, reason: final.reason }).toEqual(expectedEnd(winner));
        expect(final.segmentFailure).toEqual(winner);
      }),
      { numRuns: RUNS },
    );
  }, 600_000);
});

describe('failureChange', () => {
  const live: RunRecord = {
    jobId: 'j',
    runId: 'r',
    status: 'running',
    startedAt: 1,
    manifestDone: true,
    toleratedFailurePercent: 50,
    version: 3,
    submitted: 4,
    succeeded: 1,
    deadLettered: 0,
    undeliverable: 0,
    invalid: 0,
    cancelled: 0,
  };
  it('fails a live run for a budget its segment tripped, keeps the status for a broken manifest, once', () => {
    const budget = { reason: RunReasons.FAILURE_BUDGET, detail: 'd' } as const;
    expect(failureChange({ ...live, segmentFailure: budget })).toEqual({
      status: 'failed',
      reason: 'failure-budget',
      detail: 'd',
      from: ['running', 'paused'],
    });
    const broken = {
      ...live,
      status: 'paused',
      segmentFailure: { reason: RunReasons.MANIFEST_ERROR },
    } as const;
    expect(failureChange(broken)).toEqual({ status: 'paused', reason: 'manifest-error', from: ['paused'] });
    expect(failureChange({ ...broken, reason: RunReasons.MANIFEST_ERROR })).toBeUndefined();
    expect(failureChange(live)).toBeUndefined();
    expect(failureChange({ ...live, status: 'cancelled', segmentFailure: budget })).toBeUndefined();
  });
});
