// dynalite on disk (`run --state DIR`): a table and its items written by one emulator instance are read back
// by the next one started on the same path, as a resumed run finds the job ledger and idempotency records.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulators } from '../../local/emulators.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function withDynamo<T>(dynamoPath: string | undefined, use: (db: DynamoDBClient) => Promise<T>) {
  const emulators = await startEmulators(dynamoPath ? { dynamoPath } : {});
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

const write = (db: DynamoDBClient) =>
  db
    .send(
      new CreateTableCommand({
        TableName: 'state',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    )
    .then(() => db.send(new PutItemCommand({ TableName: 'state', Item: { pk: { S: 'a' }, n: { N: '7' } } })));
const read = (db: DynamoDBClient) =>
  db
    .send(new GetItemCommand({ TableName: 'state', Key: { pk: { S: 'a' } } }))
    .then((out) => out.Item?.n?.N)
    .catch((error: Error) => error.name);

describe('startEmulators({ dynamoPath })', () => {
  it('keeps the tables on disk across instances; without a path they go with the instance', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bf-dynamo-'));
    dirs.push(dir);
    await withDynamo(join(dir, 'dynamo'), write);
    expect(await withDynamo(join(dir, 'dynamo'), read)).toBe('7');
    await withDynamo(undefined, write);
    expect(await withDynamo(undefined, read)).toBe('ResourceNotFoundException');
  });
});
