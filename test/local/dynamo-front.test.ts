// TransactWriteItems through the real SDK against the backend's DynamoDB: on the embedded emulators that is
// the front over dynalite (local/dynamo-front.ts), on LocalStack its real transactions, so the front is held
// to what the real thing does. The pass-through test starts its own dynalite and front and compares the
// two byte for byte.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoFront } from '../../local/dynamo-front.js';
import { localCredentials } from '../../local/resources.js';
import { RUNS } from '../helpers/runs.js';
import { backend } from './fixtures/aws.js';

let client: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let table: string;

beforeAll(async () => {
  const { endpoints, region } = backend();
  client = new DynamoDBClient({ endpoint: endpoints.dynamodb, region, credentials: localCredentials });
  doc = DynamoDBDocumentClient.from(client);
  table = `front-${randomBytes(4).toString('hex')}`;
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
});
afterAll(() => client?.destroy());

const key = (pk: string) => ({ pk, sk: 'x' });
const get = async (pk: string) => (await doc.send(new GetCommand({ TableName: table, Key: key(pk) }))).Item;
const unique = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

async function cancellation(promise: Promise<unknown>): Promise<TransactionCanceledException> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransactionCanceledException);
  return error as TransactionCanceledException;
}

describe('TransactWriteItems', () => {
  it('writes nothing when the second condition fails, and says which one failed', async () => {
    const [a, b] = [unique('a'), unique('b')];
    await doc.send(new PutCommand({ TableName: table, Item: { ...key(b), n: 1 } }));
    const error = await cancellation(
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: table, Item: { ...key(a), n: 1 } } },
            {
              Update: {
                TableName: table,
                Key: key(b),
                UpdateExpression: 'ADD n :one',
                ConditionExpression: 'n = :two',
                ExpressionAttributeValues: { ':one': 1, ':two': 2 },
              },
            },
          ],
        }),
      ),
    );
    expect(error.name).toBe('TransactionCanceledException');
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.CancellationReasons?.map((r) => r.Code)).toEqual(['None', 'ConditionalCheckFailed']);
    expect(error.message).toBe(
      'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]',
    );
    expect(await get(a)).toBeUndefined();
    expect(await get(b)).toEqual({ ...key(b), n: 1 });
  });

  it('reports every failing condition, each judged on the items as they were', async () => {
    const [a, b, c] = [unique('a'), unique('b'), unique('c')];
    const error = await cancellation(
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: { TableName: table, Key: key(a), ConditionExpression: 'attribute_exists(pk)' },
            },
            {
              Put: {
                TableName: table,
                Item: { ...key(b), n: 1 },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Delete: { TableName: table, Key: key(c), ConditionExpression: 'attribute_exists(pk)' } },
          ],
        }),
      ),
    );
    expect(error.CancellationReasons?.map((r) => r.Code)).toEqual([
      'ConditionalCheckFailed',
      'None',
      'ConditionalCheckFailed',
    ]);
    expect([await get(a), await get(b), await get(c)]).toEqual([undefined, undefined, undefined]);
  });

  it('applies every action when every condition holds', async () => {
    const [a, b, c, d] = [unique('a'), unique('b'), unique('c'), unique('d')];
    await doc.send(new PutCommand({ TableName: table, Item: { ...key(b), n: 1 } }));
    await doc.send(new PutCommand({ TableName: table, Item: { ...key(c), n: 1 } }));
    await doc.send(new PutCommand({ TableName: table, Item: { ...key(d), n: 7 } }));
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: table,
              Item: { ...key(a), n: 1 },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Update: {
              TableName: table,
              Key: key(b),
              UpdateExpression: 'ADD n :five SET done = :yes',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeValues: { ':five': 5, ':yes': true },
            },
          },
          {
            Delete: {
              TableName: table,
              Key: key(c),
              ConditionExpression: 'n = :one',
              ExpressionAttributeValues: { ':one': 1 },
            },
          },
          {
            ConditionCheck: {
              TableName: table,
              Key: key(d),
              ConditionExpression: 'n = :seven',
              ExpressionAttributeValues: { ':seven': 7 },
            },
          },
        ],
      }),
    );
    expect(await get(a)).toEqual({ ...key(a), n: 1 });
    expect(await get(b)).toEqual({ ...key(b), n: 6, done: true });
    expect(await get(c)).toBeUndefined();
    expect(await get(d)).toEqual({ ...key(d), n: 7 });
  });

  it('refuses two actions on one item, as DynamoDB does', async () => {
    const a = unique('a');
    const error = await doc
      .send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: table, Item: { ...key(a), n: 1 } } },
            {
              ConditionCheck: {
                TableName: table,
                Key: key(a),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(error?.name).toBe('ValidationException');
    expect(error?.message).toMatch(/multiple operations on one item/);
    expect(await get(a)).toBeUndefined();
  });

  it('never loses an ADD: concurrent transactions and plain updates on one item sum exactly', async () => {
    // Each step adds to the hot item, in a transaction (with a marker item, maybe a failing condition) or
    // with a plain UpdateItem. The failing transactions must add nothing; everything else, exactly once.
    const step = fc.record({
      amount: fc.integer({ min: 1, max: 9 }),
      kind: fc.constantFrom('transaction', 'failing', 'plain'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 2, maxLength: 6 }), async (steps) => {
        const hot = unique('hot');
        const results = await Promise.allSettled(steps.map((s) => addTo(hot, s.amount, s.kind)));
        const expected = steps.reduce((sum, s) => sum + (s.kind === 'failing' ? 0 : s.amount), 0);
        // All failing: the item the rolled-back ADDs created is gone again.
        expect((await get(hot))?.n).toBe(expected === 0 ? undefined : expected);
        expect(results.map((r) => r.status)).toEqual(
          steps.map((s) => (s.kind === 'failing' ? 'rejected' : 'fulfilled')),
        );
      }),
      { numRuns: Math.min(RUNS, 200) },
    );
  });
});

function addTo(hot: string, amount: number, kind: string): Promise<unknown> {
  const add = {
    TableName: table,
    Key: key(hot),
    UpdateExpression: 'ADD n :a',
    ExpressionAttributeValues: { ':a': amount },
  };
  if (kind === 'plain') return doc.send(new UpdateCommand(add));
  return doc.send(
    new TransactWriteCommand({
      TransactItems: [
        { Update: add },
        {
          Put: {
            TableName: table,
            Item: { ...key(unique('marker')) },
            // A fresh key: `attribute_exists` fails, `attribute_not_exists` holds.
            ConditionExpression: kind === 'failing' ? 'attribute_exists(pk)' : 'attribute_not_exists(pk)',
          },
        },
      ],
    }),
  );
}

// The front asks dynalite over HTTP, or in process when dynalite's server runs in its thread (as the emulators run it).
describe.each([
  ['over HTTP', false],
  ['in process', true],
] as const)('the front over dynalite, %s', (_, inProcess) => {
  let direct: Server;
  let front: { endpoint: string; close(): Promise<void> };
  let directUrl: string;
  const reached: string[] = [];

  beforeAll(async () => {
    direct = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve) => direct.listen(0, '127.0.0.1', () => resolve()));
    directUrl = `http://127.0.0.1:${(direct.address() as AddressInfo).port}`;
    // Every call dynalite itself receives, by operation (the front's own calls included).
    direct.prependListener('request', (req) => {
      reached.push(String(req.headers['x-amz-target']).split('.')[1]);
    });
    front = await startDynamoFront({ target: directUrl, ...(inProcess ? { dynalite: direct } : {}) });
  });
  afterAll(async () => {
    await front?.close();
    await new Promise<void>((resolve) => {
      direct?.closeAllConnections();
      direct?.close(() => resolve());
    });
  });

  const call = async (endpoint: string, target: string, body: unknown) => {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': target,
        'x-amz-date': '20260101T000000Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, crc: res.headers.get('x-amz-crc32'), body: await res.text() };
  };

  it('passes every other call through unchanged: the same status, body and checksum as dynalite itself', async () => {
    const name = unique('pass');
    const create = {
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    };
    expect((await call(front.endpoint, 'DynamoDB_20120810.CreateTable', create)).status).toBe(200);
    const item = { TableName: name, Item: { pk: { S: 'a' }, n: { N: '1' }, b: { B: 'AAE=' } } };
    expect((await call(front.endpoint, 'DynamoDB_20120810.PutItem', item)).status).toBe(200);
    const calls: [string, unknown][] = [
      ['DynamoDB_20120810.GetItem', { TableName: name, Key: { pk: { S: 'a' } } }],
      [
        'DynamoDB_20120810.Query',
        {
          TableName: name,
          KeyConditionExpression: 'pk = :a',
          ExpressionAttributeValues: { ':a': { S: 'a' } },
        },
      ],
      ['DynamoDB_20120810.GetItem', { TableName: 'missing-table', Key: { pk: { S: 'a' } } }],
      [
        'DynamoDB_20120810.PutItem',
        { TableName: name, Item: { pk: { S: 'a' } }, ConditionExpression: 'attribute_not_exists(pk)' },
      ],
      ['DynamoDB_20120810.TransactGetItems', {}],
    ];
    for (const [target, body] of calls) {
      const [viaFront, viaDynalite] = [
        await call(front.endpoint, target, body),
        await call(directUrl, target, body),
      ];
      expect(viaFront).toEqual(viaDynalite);
    }
    const statuses = [];
    for (const [target, body] of calls) statuses.push((await call(front.endpoint, target, body)).status);
    expect(statuses).toEqual([200, 200, 400, 400, 400]);
  });

  it("answers a cancelled transaction with DynamoDB's wire shape", async () => {
    const name = unique('wire');
    await call(front.endpoint, 'DynamoDB_20120810.CreateTable', {
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    });
    const answer = await call(front.endpoint, 'DynamoDB_20120810.TransactWriteItems', {
      TransactItems: [
        { Put: { TableName: name, Item: { pk: { S: 'a' } } } },
        {
          ConditionCheck: {
            TableName: name,
            Key: { pk: { S: 'b' } },
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
      ],
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      CancellationReasons: [
        { Code: 'None' },
        { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
      ],
      Message:
        'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]',
    });
    const read = await call(directUrl, 'DynamoDB_20120810.GetItem', {
      TableName: name,
      Key: { pk: { S: 'b' } },
    });
    expect(JSON.parse(read.body)).toEqual({});
  });

  it('applies a transaction in one call to dynalite per action (the prior image comes back with the write)', async () => {
    const name = unique('calls');
    await call(front.endpoint, 'DynamoDB_20120810.CreateTable', {
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    });
    const settle = (marker: string) =>
      call(front.endpoint, 'DynamoDB_20120810.TransactWriteItems', {
        TransactItems: [
          {
            Put: {
              TableName: name,
              Item: { pk: { S: marker } },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Update: {
              TableName: name,
              Key: { pk: { S: 'run' } },
              UpdateExpression: 'ADD n :one',
              ExpressionAttributeValues: { ':one': { N: '1' } },
            },
          },
        ],
      });
    // The first one also learns the table's key schema (DescribeTable, once per table).
    expect((await settle('m1')).status).toBe(200);
    reached.length = 0;
    expect((await settle('m2')).status).toBe(200);
    expect([...reached].sort()).toEqual(['PutItem', 'UpdateItem']);
    reached.length = 0;
    // A repeated marker fails: the applied update is put back (one more call), nothing else is read.
    expect((await settle('m2')).status).toBe(400);
    expect([...reached].sort()).toEqual(['PutItem', 'PutItem', 'UpdateItem']);
    const run = await call(directUrl, 'DynamoDB_20120810.GetItem', {
      TableName: name,
      Key: { pk: { S: 'run' } },
    });
    expect(JSON.parse(run.body).Item.n).toEqual({ N: '2' });
  });
});

// dynalite answers CreateTable with the table CREATING and flips it on a timer; the front's answer waits for the
// flip. A slow timer here (300 ms) makes the window wide enough that a front which did not wait would be caught.
describe('CreateTable through the front', () => {
  it('answers once the table is ACTIVE, so a write sent straight after is accepted', async () => {
    const slow = dynalite({ createTableMs: 300 });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', () => resolve()));
    const target = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const front = await startDynamoFront({ target, dynalite: slow });
    const slowClient = new DynamoDBClient({
      endpoint: front.endpoint,
      region: 'us-east-1',
      credentials: localCredentials,
    });
    try {
      const name = unique('active');
      const created = await slowClient.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      // The answer itself is dynalite's, unchanged (CREATING, as DynamoDB answers); the table is ACTIVE by now.
      expect(created.TableDescription?.TableStatus).toBe('CREATING');
      const written = await slowClient.send(
        new PutItemCommand({ TableName: name, Item: { pk: { S: 'a' } } }),
      );
      expect(written.$metadata.httpStatusCode).toBe(200);
    } finally {
      slowClient.destroy();
      await front.close();
      await new Promise<void>((resolve) => {
        slow.closeAllConnections();
        slow.close(() => resolve());
      });
    }
  });
});
