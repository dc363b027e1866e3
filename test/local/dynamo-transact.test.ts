// A transaction in the local DynamoDB front (local/dynamo-transact.ts) whose dynalite call fails with no
// answer (a socket reset) must leave nothing applied: the front answers that error with a retryable 500 and
// the SDK sends the whole transaction again, so a part left applied would count a settle twice (a run once
// ended at 20,050 succeeded of 20,000). Against a real dynalite; the failing socket is injected (a test
// double of one call, named as such: a reset cannot be caused on demand).
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynaliteAnswer, DynaliteCalls } from '../../local/dynalite-calls.js';
import { transactWrite } from '../../local/dynamo-transact.js';
import { dynaliteWithTable } from './fixtures/dynalite-table.js';

/** DynaliteCalls whose PutItem of the item `pk: lost` fails as a reset socket would, before reaching dynalite. */
class ResetOnLost extends DynaliteCalls {
  override call(operation: string, body: object): Promise<DynaliteAnswer> {
    const item = (body as { Item?: { pk?: { S?: string } } }).Item;
    if (operation === 'PutItem' && item?.pk?.S === 'lost') {
      return Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    }
    return super.call(operation, body);
  }
}

let server: Server;
let calls: ResetOnLost;
const TABLE = 'transact';

beforeAll(async () => {
  let endpoint: string;
  ({ server, endpoint } = await dynaliteWithTable(TABLE));
  calls = new ResetOnLost(endpoint);
});
afterAll(() => new Promise<void>((resolve) => server?.close(() => resolve())));

const get = async (pk: string) =>
  (await calls.ok('GetItem', { TableName: TABLE, Key: { pk: { S: pk } }, ConsistentRead: true })).Item;

describe('a transaction whose dynalite call gets no answer', () => {
  it('throws and leaves every other action undone: no marker written, the counts as they were', async () => {
    await calls.ok('PutItem', { TableName: TABLE, Item: { pk: { S: 'run' }, n: { N: '5' } } });
    const marker = (pk: string) => ({
      kind: 'Put' as const,
      tableName: TABLE,
      params: { TableName: TABLE, Item: { pk: { S: pk } }, ConditionExpression: 'attribute_not_exists(pk)' },
    });
    const counts = {
      kind: 'Update' as const,
      tableName: TABLE,
      params: {
        TableName: TABLE,
        Key: { pk: { S: 'run' } },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '25' } },
      },
    };
    await expect(transactWrite(calls, [marker('m1'), counts, marker('lost'), marker('m2')])).rejects.toThrow(
      'socket hang up',
    );
    expect(await get('m1')).toBeUndefined();
    expect(await get('m2')).toBeUndefined();
    expect(await get('run')).toEqual({ pk: { S: 'run' }, n: { N: '5' } });

    // The same transaction sent again (as the SDK does after a 500), the reset gone: applied once.
    const again = await transactWrite(calls, [marker('m1'), counts, marker('m3')]);
    expect(again.status).toBe(200);
    expect(await get('run')).toEqual({ pk: { S: 'run' }, n: { N: '30' } });
  });
});
