// The DynamoDB front's undo log on a store kept on disk (local/dynamo-undo-log.ts): a transaction over keeps
// nothing in it, and a transaction a killed process left half applied (its line begun and never ended) is undone
// when the store is opened again, before anything reads it; an ended one, and a line torn in its write, are not.
// The kill itself, inside a job ledger settle of a real CLI child, is test/local/cli/kill-in-transact.test.ts.
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { UNDO_LOG_FILE } from '../../local/dynamo-emulator.js';
import { startEmulators } from '../../local/emulators.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function withDynamo<T>(dynamoPath: string, use: (db: DynamoDBClient) => Promise<T>) {
  const emulators = await startEmulators({ dynamoPath });
  const db = new DynamoDBClient({
    endpoint: emulators.endpoints.dynamodb,
    region: emulators.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    return await use(db);
  } finally {
    db.destroy();
    await emulators.stop();
  }
}

const TableName = 'undo';
const put = (db: DynamoDBClient, pk: string, n: string) =>
  db.send(new PutItemCommand({ TableName, Item: { pk: { S: pk }, n: { N: n } } }));
const read = (db: DynamoDBClient, pk: string) =>
  db.send(new GetItemCommand({ TableName, Key: { pk: { S: pk } } })).then((out) => out.Item?.n?.N ?? 'none');

describe('the DynamoDB front’s undo log, on a store on disk', () => {
  it('keeps nothing once a transaction is over; undoes one begun and never ended at the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bf-undo-'));
    dirs.push(dir);
    const path = join(dir, 'dynamo');
    const log = join(path, UNDO_LOG_FILE);
    await withDynamo(path, async (db) => {
      await db.send(
        new CreateTableCommand({
          TableName,
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await put(db, 'a', '1');
      await db.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName, Item: { pk: { S: 'b' }, n: { N: '1' } } } },
            {
              Update: {
                TableName,
                Key: { pk: { S: 'c' } },
                UpdateExpression: 'ADD n :one',
                ExpressionAttributeValues: { ':one': { N: '1' } },
              },
            },
          ],
        }),
      );
      expect(await readFile(log, 'utf8')).toBe('');
      // What a kill between two calls of a transaction leaves: `a` and `b` written, the rest not.
      await put(db, 'a', '2');
      await put(db, 'b', '2');
    });
    const item = (pk: string, n: string) => ({ pk: { S: pk }, n: { N: n } });
    const lines = [
      // An ended transaction: not undone.
      { b: 1, p: [{ t: TableName, k: { pk: { S: 'c' } }, i: item('c', '9') }] },
      {
        b: 2,
        p: [
          { t: TableName, k: { pk: { S: 'a' } }, i: item('a', '1') },
          { t: TableName, k: { pk: { S: 'b' } }, i: item('b', '1') },
          { t: TableName, k: { pk: { S: 'd' } } },
        ],
      },
      { e: 1 },
    ];
    // The last line torn in its write: its transaction applied nothing.
    await appendFile(
      log,
      `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"b":3,"p":[{"t":"undo","k":{"pk":{"S":"c"}}`,
    );
    await withDynamo(path, async (db) => {
      expect(await Promise.all(['a', 'b', 'c', 'd'].map((pk) => read(db, pk)))).toEqual([
        '1',
        '1',
        '1',
        'none',
      ]);
      expect(await readFile(log, 'utf8')).toBe('');
    });
  }, 60_000);
});
