// The break (lib/aws/run-break.ts): a settle of the broken segment itself that lands after the break
// (a copy of the segment that was still running when Lambda reported another copy's failure, or the failed
// event redriven from the orchestrator's DLQ while the report was being handled) must not count the segment's
// queued tasks a second time: they are counted `submitted` by the break's tally (adopted).
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { isComplete, settledCount } from '../../../lib/ledger/run-rules.js';
import { freshJobTable } from '../../local/fixtures/aws.js';

let client: DynamoDBClient;
let ledger: JobLedgerTable;
const clock = 1_000_000;

beforeAll(async () => {
  const { client: c, tableName } = await freshJobTable('breaklate');
  client = c;
  ledger = new JobLedgerTable(client, { tableName, retentionDays: 7, now: () => clock });
});
afterAll(() => client?.destroy());

describe('a settle of the broken segment after the break', () => {
  it('does not count its queued tasks submitted twice', async () => {
    const jobId = `job-${randomBytes(4).toString('hex')}`;
    await ledger.startRun({
      jobId,
      runId: 'r',
      startedAt: clock,
      toleratedFailurePercent: 100,
      overlap: 'allow',
    });
    await ledger.settle({ jobId, runId: 'r', key: 'segment:0', delta: { submitted: 5 } });
    await ledger.settle({ jobId, runId: 'r', key: 'm0', delta: { succeeded: 5 }, segment: 0 });
    // Segment 1 queued 4 tasks (one message); a worker settled them before the break.
    await ledger.settle({ jobId, runId: 'r', key: 'm1', delta: { succeeded: 4 }, segment: 1 });
    const broken = await ledger.breakRun({
      jobId,
      runId: 'r',
      segment: 1,
      detail: 'segment 1 failed for good',
    });
    expect(broken).toMatchObject({ submitted: 9, adopted: 4, manifestDone: true });
    expect(isComplete(broken!)).toBe(true);
    // Another copy of segment 1 (which read those same 4 tasks and sent the same message) stops on the failed
    // status and settles the segment, as functions/end-run.ts does.
    const late = await ledger.settle({
      jobId,
      runId: 'r',
      key: 'segment:1',
      delta: { submitted: 4 },
      manifestDone: true,
    });
    expect(late.applied).toBe(false);
    // No copy of the broken segment won: its dead letters and hand-offs are a loser's.
    expect(await ledger.settledMarker(jobId, 'r', 'segment:1')).toEqual({ state: { copy: 'none' } });
    const after = (await ledger.getRun(jobId, 'r'))!;
    // 9 tasks were read, 9 ended: the run must still be complete with submitted 9.
    expect({ submitted: after.submitted, settled: settledCount(after) }).toEqual({
      submitted: 9,
      settled: 9,
    });
  });
});
