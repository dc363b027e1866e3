// The DynamoDB emulator on its own thread (local/dynamo-on-thread.ts): dynalite and its front answer the SDK
// from there (a transaction included: the front's), and stop closes both ports.
import { connect } from 'node:net';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { startDynamoOnThread } from '../../local/dynamo-on-thread.js';

const refused = (endpoint: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(endpoint);
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });

describe('the DynamoDB emulator on a thread', () => {
  it('answers through its front, then stop closes both ports', async () => {
    const dynamo = await startDynamoOnThread();
    const db = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      await db.send(
        new CreateTableCommand({
          TableName: 'threaded',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      const put = (pk: string) => ({
        Put: {
          TableName: 'threaded',
          Item: { pk: { S: pk } },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
      await db.send(new TransactWriteItemsCommand({ TransactItems: [put('a'), put('b')] }));
      const { Item } = await db.send(
        new GetItemCommand({ TableName: 'threaded', Key: { pk: { S: 'b' } }, ConsistentRead: true }),
      );
      expect(Item).toEqual({ pk: { S: 'b' } });
      expect(dynamo.dynalite).not.toBe(dynamo.endpoint);
    } finally {
      db.destroy();
      await dynamo.stop();
    }
    expect(await refused(dynamo.endpoint)).toBe(true);
    expect(await refused(dynamo.dynalite)).toBe(true);
  });
});
