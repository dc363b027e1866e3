// A run broken at an orchestrator segment that failed its every attempt (JobLedger.breakRun, lib/aws/run-break.ts,
// lib/aws/segment-tallies.ts), on the real store against the backend's DynamoDB: when a break is made and when it
// is refused, and the accounting rule, as a property over interleavings: the broken segment never settled, yet
// every task the workers settled of its messages counts `submitted`, so the run ends exactly once with
// `submitted` equal to what ended, before or after the break, whatever the order.
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import type { BreakInput, SettleInput } from '../../../lib/ledger/job-ledger.js';
import { RunReasons, type RunRecord } from '../../../lib/ledger/run-record.js';
import { finalStatus, isComplete, settledCount } from '../../../lib/ledger/run-rules.js';
import { RUNS } from '../../helpers/runs.js';
import { freshJobTable } from '../../local/fixtures/aws.js';

let client: DynamoDBClient;
let tableName: string;
const clock = 1_000_000;
let ledger: JobLedgerTable;

beforeAll(async () => {
  ({ client, tableName } = await freshJobTable('break'));
  ledger = new JobLedgerTable(client, { tableName, retentionDays: 7, now: () => clock });
});
afterAll(() => client?.destroy());

const newJob = () => `job-${randomBytes(4).toString('hex')}`;
const start = (jobId: string) =>
  ledger.startRun({ jobId, runId: 'r', startedAt: clock, toleratedFailurePercent: 100, overlap: 'allow' });
const broken = (jobId: string, segment = 1): BreakInput => ({
  jobId,
  runId: 'r',
  segment,
  detail: `orchestrator segment ${segment} failed for good`,
});
const settle = (jobId: string, input: Omit<SettleInput, 'jobId' | 'runId'>) =>
  ledger.settle({ jobId, runId: 'r', ...input });

describe('breakRun', () => {
  it('fails a running run, ends its reading, and counts the settled tasks of the segment’s messages submitted', async () => {
    const jobId = newJob();
    await start(jobId);
    await settle(jobId, { key: 'segment:0', delta: { submitted: 10 } });
    await settle(jobId, { key: 'm0', delta: { succeeded: 10 }, segment: 0 });
    // Segment 1 sent messages; two were settled by workers before it died.
    await settle(jobId, { key: 'm1', delta: { succeeded: 4 }, segment: 1 });
    await settle(jobId, { key: 'm2', delta: { succeeded: 2, cancelled: 1 }, segment: 1 });
    const record = await ledger.breakRun(broken(jobId));
    expect(record).toMatchObject({
      status: 'failed',
      reason: RunReasons.ORCHESTRATOR_FAILED,
      detail: 'orchestrator segment 1 failed for good',
      manifestDone: true,
      brokenSegment: 1,
      adopted: 7,
      submitted: 17,
      succeeded: 16,
      cancelled: 1,
    });
    expect(isComplete(record!)).toBe(true);
    // The store's own attributes stay the store's: no tally reaches the port's record.
    expect(Object.keys(record!).filter((k) => k.startsWith('tally'))).toEqual([]);
    // A settle after the break counts on both sides, and the finish judges the counts as stored.
    await settle(jobId, { key: 'm3', delta: { cancelled: 3 }, segment: 1 });
    const now = (await ledger.getRun(jobId, 'r'))!;
    expect(now).toMatchObject({ submitted: 20, adopted: 10, cancelled: 4 });
    const ended = await ledger.finish(now, finalStatus(now));
    expect(ended).toMatchObject({ status: 'failed', reason: RunReasons.ORCHESTRATOR_FAILED, submitted: 20 });
    expect(settledCount(ended!)).toBe(20);
  });

  it('is made once, only while the manifest is being read, the run unfinished and its segment unsettled', async () => {
    const again = newJob();
    await start(again);
    expect(await ledger.breakRun(broken(again))).toBeDefined();
    expect(await ledger.breakRun(broken(again))).toBeUndefined();

    // A copy of the segment settled: it sent, or a later attempt sends, the next segment. Not broken.
    const settled = newJob();
    await start(settled);
    await settle(settled, { key: 'segment:1', delta: { submitted: 3 } });
    expect(await ledger.breakRun(broken(settled))).toBeUndefined();
    expect(await ledger.getRun(settled, 'r')).toMatchObject({ status: 'running', manifestDone: false });

    const read = newJob();
    await start(read);
    await settle(read, { key: 'segment:0', delta: { submitted: 1 }, manifestDone: true });
    expect(await ledger.breakRun(broken(read))).toBeUndefined();

    expect(await ledger.breakRun(broken(newJob()))).toBeUndefined();
  });

  it('a cancelled run keeps its status and reason, and still ends once its counted tasks have', async () => {
    const jobId = newJob();
    await start(jobId);
    await ledger.setStatus(jobId, 'r', {
      status: 'cancelled',
      reason: RunReasons.CANCELLED_BY_OPERATOR,
      from: ['running'],
    });
    await settle(jobId, { key: 'm1', delta: { cancelled: 5 }, segment: 0 });
    const record = await ledger.breakRun(broken(jobId, 0));
    expect(record).toMatchObject({
      status: 'cancelled',
      reason: RunReasons.CANCELLED_BY_OPERATOR,
      brokenSegment: 0,
      submitted: 5,
      manifestDone: true,
    });
    expect(record?.detail).toBeUndefined();
    expect(isComplete(record!)).toBe(true);
  });
});

/** Containers settling one run in the property: each its own store and settle groups, racing at the table. */
const CONTAINERS = 3;

describe('the accounting of a broken run', () => {
  it('ends exactly once with submitted = every task that ended, whatever the interleaving of settles and the break', async () => {
    const unit = fc.record({
      segment: fc.integer({ min: 0, max: 2 }),
      succeeded: fc.integer({ min: 0, max: 3 }),
      deadLettered: fc.integer({ min: 0, max: 1 }),
      cancelled: fc.integer({ min: 0, max: 2 }),
      twice: fc.boolean(),
    });
    const plan = fc.record({
      // Segments 0 and 1 settled; 2 is the broken one (never settled).
      units: fc.array(unit, { minLength: 1, maxLength: 5 }),
      via: fc.array(fc.integer({ min: 0, max: CONTAINERS - 1 }), { minLength: 12, maxLength: 12 }),
    });
    const containers = Array.from({ length: CONTAINERS }, (_, i) =>
      i === 0 ? ledger : new JobLedgerTable(client, { tableName, retentionDays: 7, now: () => clock }),
    );
    await fc.assert(
      fc.asyncProperty(plan, fc.scheduler(), async ({ units, via }, s) => {
        const jobId = newJob();
        await start(jobId);
        const ended = (u: (typeof units)[number]) => u.succeeded + u.deadLettered + u.cancelled;
        const ofSegment = (n: number) =>
          units.filter((u) => u.segment === n).reduce((t, u) => t + ended(u), 0);
        // The segments that settled count what they read, as the orchestrator does: before the break, which
        // Lambda reports only after segment 2's every attempt failed (segment 2 ran after 1 settled).
        await settle(jobId, { key: 'segment:0', delta: { submitted: ofSegment(0) } });
        await settle(jobId, { key: 'segment:1', delta: { submitted: ofSegment(1) } });
        const wins: RunRecord[] = [];
        const finish = s.scheduleFunction(async (record: RunRecord, c: number) => {
          const won = await containers[c].finish(record, finalStatus(record));
          if (won) wins.push(won);
        });
        const judge = async (record: RunRecord | undefined, c: number) => {
          if (record && isComplete(record))
            await Promise.all([finish(record, c), finish(record, (c + 1) % 3)]);
        };
        const settleVia = s.scheduleFunction((input: SettleInput, c: number) => containers[c].settle(input));
        const breakVia = s.scheduleFunction((c: number) => containers[c].breakRun(broken(jobId, 2)));
        const inputs = units.flatMap((u, i) => {
          const { segment, succeeded, deadLettered, cancelled } = u;
          const input = {
            jobId,
            runId: 'r',
            key: `m${i}`,
            delta: { succeeded, deadLettered, cancelled },
            segment,
          };
          return u.twice ? [input, input] : [input];
        });
        const work = [
          ...inputs.map(async (input, i) => judge((await settleVia(input, via[i % 12])).record, via[i % 12])),
          (async () => judge(await breakVia(via[11]), via[11]))(),
        ];
        await s.waitFor(Promise.all(work));
        const final = (await ledger.getRun(jobId, 'r'))!;
        const all = ofSegment(0) + ofSegment(1) + ofSegment(2);
        expect(wins).toHaveLength(1);
        expect(final).toMatchObject({
          status: 'failed',
          reason: RunReasons.ORCHESTRATOR_FAILED,
          brokenSegment: 2,
          adopted: ofSegment(2),
          submitted: all,
          finishedAt: clock,
        });
        expect(settledCount(final)).toBe(all);
        // The winner judged the counts then standing: complete, though settles of the broken segment may
        // land after it (they add to both sides alike).
        expect(settledCount(wins[0])).toBe(wins[0].submitted);
      }),
      { numRuns: Math.min(RUNS, 300) },
    );
  }, 600_000);
});
