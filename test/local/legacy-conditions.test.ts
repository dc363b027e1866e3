// A bare attribute_(not_)exists condition sent to dynalite as legacy `Expected` (local/legacy-conditions.ts)
// must answer exactly as the expression does: the same status and body, met or not, on a Put, a Delete and a
// key-only Update (a transaction's ConditionCheck), and leave the item the same. Against a real dynalite: each
// case is sent as written by a DynaliteCalls that has learned nothing, then translated, from the same item.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynaliteCalls } from '../../local/dynalite-calls.js';
import { LegacyConditions } from '../../local/legacy-conditions.js';
import { dynaliteWithTable } from './fixtures/dynalite-table.js';

let server: Server;
let endpoint: string;
const TABLE = 'conditions';
const KEY = { pk: { S: 'item' } };
const ITEM = { ...KEY, n: { N: '1' } };

beforeAll(async () => {
  ({ server, endpoint } = await dynaliteWithTable(TABLE));
});
afterAll(() => new Promise<void>((resolve) => server?.close(() => resolve())));

/** A DynaliteCalls that has learned no condition: it sends what it is given, as given. */
const asGiven = () => new DynaliteCalls(endpoint);

async function setItem(present: boolean) {
  const calls = asGiven();
  if (present) await calls.ok('PutItem', { TableName: TABLE, Item: ITEM });
  else await calls.ok('DeleteItem', { TableName: TABLE, Key: KEY });
}
const item = async () =>
  (await asGiven().ok('GetItem', { TableName: TABLE, Key: KEY, ConsistentRead: true })).Item;

const CONDITIONS = [
  { ConditionExpression: 'attribute_not_exists(pk)' },
  { ConditionExpression: 'attribute_exists(pk)' },
  { ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': 'pk' } },
  { ConditionExpression: 'attribute_exists(#k)', ExpressionAttributeNames: { '#k': 'n' } },
];
const CALLS = [
  ['PutItem', { TableName: TABLE, Item: { ...KEY, n: { N: '2' } }, ReturnValues: 'ALL_OLD' }],
  ['DeleteItem', { TableName: TABLE, Key: KEY, ReturnValues: 'ALL_OLD' }],
  ['UpdateItem', { TableName: TABLE, Key: KEY, ReturnValues: 'ALL_OLD' }],
] as const;

describe('a simple condition sent as Expected', () => {
  for (const [operation, base] of CALLS) {
    for (const condition of CONDITIONS) {
      for (const present of [true, false]) {
        it(`${operation} ${condition.ConditionExpression}, item ${present ? 'there' : 'absent'}`, async () => {
          const params = { ...base, ...condition };
          const conditions = new LegacyConditions();
          await setItem(present);
          const plain = await asGiven().call(operation, params);
          const after = await item();
          conditions.learn(params, plain);

          const sent = conditions.translate(params);
          expect(sent.ConditionExpression).toBeUndefined();
          expect(sent.Expected).toBeDefined();
          await setItem(present);
          const translated = await asGiven().call(operation, sent);
          expect({ status: translated.status, body: translated.body }).toEqual({
            status: plain.status,
            body: plain.body,
          });
          expect(await item()).toEqual(after);
        });
      }
    }
  }

  it('sends a condition dynalite refused, or one it never saw, as written', async () => {
    const conditions = new LegacyConditions();
    // NAME is a reserved word: dynalite refuses the expression, so it is never translated.
    const reserved = { ...CALLS[0][1], ConditionExpression: 'attribute_not_exists(name)' };
    const refused = await asGiven().call('PutItem', reserved);
    expect(refused.status).toBe(400);
    expect(String(refused.body.message)).toContain('reserved keyword');
    conditions.learn(reserved, refused);
    expect(conditions.translate(reserved)).toBe(reserved);
    // Never sent: not known to parse.
    const unseen = { ...CALLS[0][1], ConditionExpression: 'attribute_not_exists(pk)' };
    expect(conditions.translate(unseen)).toBe(unseen);
    // A name given but unused is dynalite's error to give: never simple.
    const unused = {
      ...CALLS[0][1],
      ConditionExpression: 'attribute_not_exists(#k)',
      ExpressionAttributeNames: { '#k': 'pk', '#x': 'n' },
    };
    conditions.learn(unused, { status: 200, body: {} });
    expect(conditions.translate(unused)).toBe(unused);
  });

  it('is how DynaliteCalls sends a condition from its second time on', async () => {
    // A recording proxy between DynaliteCalls and dynalite: what went over the wire, as dynalite answered it.
    const bodies: Record<string, unknown>[] = [];
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        bodies.push(JSON.parse(body.toString('utf8')));
        const { hostname, port } = new URL(endpoint);
        const out = request({ host: hostname, port, method: 'POST', headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(res);
        });
        out.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const calls = new DynaliteCalls(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
    try {
      await setItem(false);
      const marker = (pk: string) => ({
        TableName: TABLE,
        Item: { pk: { S: pk } },
        ConditionExpression: 'attribute_not_exists(pk)',
      });
      expect((await calls.call('PutItem', marker('m1'))).status).toBe(200);
      expect((await calls.call('PutItem', marker('m2'))).status).toBe(200);
      const again = await calls.call('PutItem', marker('m2'));
      expect(again.body.__type).toBe('com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException');
      expect(bodies.map((b) => b.ConditionExpression ?? b.Expected)).toEqual([
        'attribute_not_exists(pk)',
        { pk: { ComparisonOperator: 'NULL' } },
        { pk: { ComparisonOperator: 'NULL' } },
      ]);
    } finally {
      calls.destroy();
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
