// Group commit of the job ledger's settles (lib/aws/settle-groups.ts) through JobLedgerTable on the backend's
// DynamoDB, the real SDK: the settles of one run waiting on a transaction in flight go as one transaction and
// one read, each key still counts once, and the group shares one record (so its caller ends the run once);
// a settle that cannot have ended the run and adds no failure goes unread (lib/aws/unsettled.ts), the one
// that completes it always reads.
import { randomBytes } from 'node:crypto';
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { MAX_GROUP } from '../../../lib/aws/settle-groups.js';
import type { SettleResult } from '../../../lib/ledger/job-ledger.js';
import { isComplete } from '../../../lib/ledger/run-rules.js';
import { CommandCounter, freshJobTable } from '../../local/fixtures/aws.js';

let client: DynamoDBClient;
let ledger: JobLedgerTable;
let tableName: string;
/** The DynamoDB commands sent, by name; its `onSend` is the test's hook into a command in flight. */
let commands: CommandCounter;

beforeAll(async () => {
  ({ client, tableName } = await freshJobTable('groups'));
  commands = new CommandCounter(client);
  ledger = new JobLedgerTable(client, { tableName, retentionDays: 7 });
});
afterAll(() => client?.destroy());

async function startedRun(): Promise<string> {
  const jobId = `job-${randomBytes(4).toString('hex')}`;
  await ledger.startRun({ jobId, runId: 'r', startedAt: 1, toleratedFailurePercent: 10, overlap: 'allow' });
  commands.sent.clear();
  return jobId;
}

describe('settle groups', () => {
  // A dead letter in each: the failure budget is judged on the record, so each group reads it.
  const deadLetterSettle = (jobId: string, i: number) =>
    ledger.settle({ jobId, runId: 'r', key: `m${i}`, delta: { succeeded: 2 - (i % 2), deadLettered: 1 } });

  it('settles issued in the same tick go as one transaction and one read', async () => {
    const jobId = await startedRun();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => deadLetterSettle(jobId, i)));
    expect(commands.sent.get('TransactWriteItemsCommand')).toBe(1);
    expect(commands.sent.get('GetItemCommand')).toBe(1);
    expect(results.every((r) => r.applied)).toBe(true);
    expect(results[0].record).toBe(results[19].record);
    expect(results[19].record).toMatchObject({ succeeded: 30, deadLettered: 20 });
  });

  it('settles arriving while one is in flight wait, then go as the next transaction and read', async () => {
    const jobId = await startedRun();
    const later: Promise<SettleResult>[] = [];
    commands.onSend = (name) => {
      if (name !== 'TransactWriteItemsCommand' || later.length > 0) return;
      for (let i = 1; i < 20; i++) later.push(deadLetterSettle(jobId, i));
    };
    const first = await deadLetterSettle(jobId, 0);
    commands.onSend = () => {};
    const results = [first, ...(await Promise.all(later))];
    // The first alone (it was on its way when the others came), the 19 that waited on it together.
    expect(commands.sent.get('TransactWriteItemsCommand')).toBe(2);
    expect(commands.sent.get('GetItemCommand')).toBe(2);
    expect(results.every((r) => r.applied)).toBe(true);
    expect(results[1].record).toBe(results[19].record);
    expect(results[19].record).toMatchObject({ succeeded: 30, deadLettered: 20 });
  });

  it(`a group holds at most ${MAX_GROUP} keys`, async () => {
    const jobId = await startedRun();
    const n = 2 * MAX_GROUP + 3;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        ledger.settle({ jobId, runId: 'r', key: `m${i}`, delta: { succeeded: 1 } }),
      ),
    );
    // Issued in one tick: 50, 50 and 3.
    expect(commands.sent.get('TransactWriteItemsCommand')).toBe(3);
    expect(await ledger.getRun(jobId, 'r')).toMatchObject({ succeeded: n });
  });

  it('a key settled before, or twice in one group, counts once; the other keys of its group count', async () => {
    const jobId = await startedRun();
    await ledger.settle({ jobId, runId: 'r', key: 'old', delta: { succeeded: 100 } });
    const keys = ['a', 'old', 'b', 'a', 'c', 'old', 'b'];
    const results = await Promise.all(
      keys.map((key, i) => ledger.settle({ jobId, runId: 'r', key, delta: { succeeded: i + 1 } })),
    );
    expect(results.map((r) => r.applied)).toEqual([true, false, true, false, true, false, false]);
    // a: 1, b: 3, c: 5, on top of old's 100.
    expect(await ledger.getRun(jobId, 'r')).toMatchObject({ succeeded: 109 });
  });

  it('a group for a run with no record applies nothing, and a bad delta fails only its own settle', async () => {
    const jobId = `job-${randomBytes(4).toString('hex')}`;
    const results = await Promise.allSettled([
      ledger.settle({ jobId, runId: 'r', key: 'a', delta: { succeeded: 1 } }),
      ledger.settle({ jobId, runId: 'r', key: 'b', delta: { succeeded: 1.5 } }),
      ledger.settle({ jobId, runId: 'r', key: 'c', delta: { succeeded: 1 } }),
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: { applied: false, record: undefined } });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { name: 'InvalidArgumentError' } });
    expect(results[2]).toEqual({ status: 'fulfilled', value: { applied: false, record: undefined } });
  });

  it('a settle that cannot end the run goes unread; the one that completes it reads and sees it complete', async () => {
    const jobId = await startedRun();
    const segment = await ledger.settle({
      jobId,
      runId: 'r',
      key: 'segment:0',
      delta: { submitted: 4 },
      manifestDone: true,
    });
    expect(segment).toMatchObject({ applied: true, record: { submitted: 4, manifestDone: true } });
    const first = await ledger.settle({ jobId, runId: 'r', key: 'm0', delta: { succeeded: 1, invalid: 1 } });
    expect(first).toEqual({ applied: true, record: undefined, unread: true });
    expect(commands.sent.get('GetItemCommand')).toBe(1);
    const last = await ledger.settle({ jobId, runId: 'r', key: 'm1', delta: { succeeded: 2 } });
    expect(last.applied).toBe(true);
    expect(last.record && isComplete(last.record)).toBe(true);
    // The last settle: its unread attempt refused (it completes the run), sent plainly, then read.
    expect(commands.sent.get('TransactWriteItemsCommand')).toBe(4);
    expect(commands.sent.get('GetItemCommand')).toBe(2);
    // A repeat after the end changes nothing and is read (unsettled is 0 and the manifest done).
    const again = await ledger.settle({ jobId, runId: 'r', key: 'm1', delta: { succeeded: 2 } });
    expect(again).toMatchObject({ applied: false, record: { succeeded: 3, invalid: 1, submitted: 4 } });
  });

  it('a group reads when any one settle adds a failure, even if another’s move cancels it in the sum', async () => {
    const jobId = await startedRun();
    await ledger.settle({ jobId, runId: 'r', key: 'segment:0', delta: { submitted: 10 } });
    await ledger.settle({ jobId, runId: 'r', key: 'm0', delta: { deadLettered: 1 } });
    commands.sent.clear();
    // A redrive's move out of deadLettered and another message's dead letter, in one group: summed, they add no
    // failure, but the dead letter alone does, and the failure budget is judged on the record it reads.
    const [moved, dead] = await Promise.all([
      ledger.settle({ jobId, runId: 'r', key: '#moved:t0', delta: { succeeded: 1, deadLettered: -1 } }),
      ledger.settle({ jobId, runId: 'r', key: 'm1!handed', delta: { deadLettered: 1 } }),
    ]);
    expect(commands.sent.get('TransactWriteItemsCommand')).toBe(1);
    expect(commands.sent.get('GetItemCommand')).toBe(1);
    expect(moved).toMatchObject({ applied: true, record: { succeeded: 1, deadLettered: 1 } });
    expect(dead.record).toBe(moved.record);
    expect(dead).not.toHaveProperty('unread');
  });

  it('an unread settle confirms the version its settler saw, and only while the record is at that version', async () => {
    const jobId = await startedRun();
    const settle = (key: string, seenVersion: number) =>
      ledger.settle({ jobId, runId: 'r', key, delta: { succeeded: 1 }, seenVersion });
    expect(await settle('m0', 1)).toEqual({ applied: true, record: undefined, unread: true, confirmed: 1 });
    // Settles of one group that saw different versions confirm none (and still go unread).
    const mixed = await Promise.all([settle('m1', 1), settle('m2', 2)]);
    expect(mixed.map((r) => r.confirmed)).toEqual([undefined, undefined]);
    expect(mixed.every((r) => r.unread && r.applied)).toBe(true);
    expect(commands.sent.get('GetItemCommand')).toBeUndefined();
    // The limits change (version 2): a settle that saw version 1 is written plainly and reads the record.
    await ledger.setLimits(jobId, 'r', { perInvocationConcurrency: 3 });
    commands.sent.clear();
    const stale = await settle('m3', 1);
    expect(stale).toMatchObject({ applied: true, record: { version: 2, succeeded: 4 } });
    expect(stale.confirmed).toBeUndefined();
    expect(commands.sent.get('TransactWriteItemsCommand')).toBe(2);
    expect(commands.sent.get('GetItemCommand')).toBe(1);
    expect(await settle('m4', 2)).toMatchObject({ unread: true, confirmed: 2 });
  });

  it('a run record that keeps no unsettled count (written before it was kept) is always read back', async () => {
    const jobId = await startedRun();
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: `job#${jobId}` }, sk: { S: 'run#r' } },
        UpdateExpression: 'REMOVE unsettled',
      }),
    );
    commands.sent.clear();
    for (let i = 0; i < 3; i++) {
      const result = await ledger.settle({ jobId, runId: 'r', key: `m${i}`, delta: { succeeded: 1 } });
      expect(result.record).toMatchObject({ succeeded: i + 1 });
    }
    expect(commands.sent.get('GetItemCommand')).toBe(3);
    const done = await ledger.settle({
      jobId,
      runId: 'r',
      key: 's',
      delta: { submitted: 3 },
      manifestDone: true,
    });
    expect(done.record && isComplete(done.record)).toBe(true);
  });
});
