// DynamoDB cancels a transaction that meets another on the same item with TransactionConflict, which the
// local front never does (it serializes transactions). So the conflict is injected here: a FAULT INJECTION
// middleware on a real client makes the first TransactWriteItems calls fail as DynamoDB would, before they
// are sent; everything else reaches the real emulator.
import { type DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { isConflict } from '../../../lib/aws/ledger-transact.js';
import { OverlapPolicies } from '../../../lib/config.js';
import { freshJobTable } from '../../local/fixtures/aws.js';

const conflict = () =>
  new TransactionCanceledException({
    message:
      'Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]',
    $metadata: {},
    CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
  });

let client: DynamoDBClient;
let tableName: string;
let conflictsLeft = 0;
let transactions = 0;

beforeAll(async () => {
  ({ client, tableName } = await freshJobTable('conflict'));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'TransactWriteItemsCommand') {
        transactions++;
        if (conflictsLeft > 0) {
          conflictsLeft--;
          throw conflict();
        }
      }
      return next(args);
    },
    { step: 'initialize', name: 'injectTransactionConflict' },
  );
});
afterAll(() => client?.destroy());

describe('TransactionConflict', () => {
  it('is told apart from a failed condition', () => {
    expect(isConflict(conflict())).toBe(true);
    const failed = new TransactionCanceledException({
      message: 'x',
      $metadata: {},
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'TransactionConflict' }],
    });
    expect(isConflict(failed)).toBe(false);
    expect(isConflict(new Error('TransactionConflict'))).toBe(false);
  });

  it('a settle that meets conflicts is sent again and counted once; past the retries it throws', async () => {
    const ledger = new JobLedgerTable(client, { tableName, retentionDays: 7 });
    await ledger.startRun({
      jobId: 'j',
      runId: 'r',
      startedAt: 1,
      toleratedFailurePercent: 100,
      overlap: OverlapPolicies.ALLOW,
    });
    conflictsLeft = 3;
    transactions = 0;
    const out = await ledger.settle({
      jobId: 'j',
      runId: 'r',
      key: 'm1',
      delta: { submitted: 2, succeeded: 2 },
    });
    expect(out.applied).toBe(true);
    expect(transactions).toBe(4);
    // Unread (it cannot have ended the run: lib/aws/unsettled.ts), so the count is read here.
    expect(out.unread).toBe(true);
    expect(await ledger.getRun('j', 'r')).toMatchObject({ submitted: 2, succeeded: 2 });
    conflictsLeft = 6;
    transactions = 0;
    await expect(
      ledger.settle({ jobId: 'j', runId: 'r', key: 'm2', delta: { succeeded: 1 } }),
    ).rejects.toBeInstanceOf(TransactionCanceledException);
    expect(transactions).toBe(6);
    expect((await ledger.getRun('j', 'r'))?.succeeded).toBe(2);
  });
});
