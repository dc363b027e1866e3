// Group commit of the job ledger's settles (lib/aws/settle-groups.ts) through JobLedgerTable on the backend's
// DynamoDB, the real SDK: the settles of one run waiting on a transaction in flight go as one transaction and
// one read, each key still counts once, and the group shares one record (so its caller ends the run once).
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { MAX_GROUP } from '../../../lib/aws/settle-groups.js';
import { withDefaults } from '../../../lib/config.js';
import { createResources, localCredentials } from '../../../local/resources.js';
import { backend, uniquePrefix } from '../../local/fixtures/aws.js';

let client: DynamoDBClient;
let ledger: JobLedgerTable;
/** The DynamoDB operations the client sent, by command name (counted by a middleware on the real client). */
const sent = new Map<string, number>();

beforeAll(async () => {
  const target = backend();
  const resources = await createResources(withDefaults({ prefix: uniquePrefix('groups') }), target);
  client = new DynamoDBClient({
    endpoint: target.endpoints.dynamodb,
    region: target.region,
    credentials: localCredentials,
  });
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = String(context.commandName);
      sent.set(name, (sent.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  ledger = new JobLedgerTable(client, { tableName: resources.jobTable, retentionDays: 7 });
});
afterAll(() => client?.destroy());

async function startedRun(): Promise<string> {
  const jobId = `job-${randomBytes(4).toString('hex')}`;
  await ledger.startRun({ jobId, runId: 'r', startedAt: 1, toleratedFailurePercent: 10, overlap: 'allow' });
  sent.clear();
  return jobId;
}

describe('settle groups', () => {
  it('settles arriving while one is in flight go as one transaction and one read', async () => {
    const jobId = await startedRun();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        ledger.settle({ jobId, runId: 'r', key: `m${i}`, delta: { succeeded: 2, deadLettered: i % 2 } }),
      ),
    );
    // The first alone (nothing in flight), the 19 that waited on it together.
    expect(sent.get('TransactWriteItemsCommand')).toBe(2);
    expect(sent.get('GetItemCommand')).toBe(2);
    expect(results.every((r) => r.applied)).toBe(true);
    expect(results[1].record).toBe(results[19].record);
    expect(results[19].record).toMatchObject({ succeeded: 40, deadLettered: 10 });
  });

  it(`a group holds at most ${MAX_GROUP} keys`, async () => {
    const jobId = await startedRun();
    const n = 1 + 2 * MAX_GROUP + 3;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        ledger.settle({ jobId, runId: 'r', key: `m${i}`, delta: { succeeded: 1 } }),
      ),
    );
    expect(sent.get('TransactWriteItemsCommand')).toBe(4);
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
});
