// The task records of 'task' idempotency against the backend's DynamoDB (dynalite locally) through the real SDK:
// what was recorded is read back exactly, a message's read and a tick's writes go as few batch calls as the
// limits allow, records expire with their TTL, and they are Powertools' own records both ways. What DynamoDB
// leaves unprocessed is driven by a stub client (a mock, named as such: the emulators never throttle).
import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyUses, idempotencyKeyPrefix, idempotencyOptions } from '../../../functions/idempotency.js';
import { TaskRecords } from '../../../lib/aws/task-records.js';
import { CommandCounter, freshIdempotencyTable } from '../../local/fixtures/aws.js';

let client: DynamoDBClient;
let tableName: string;
let counter: CommandCounter;
const idPrefix = idempotencyKeyPrefix(IdempotencyUses.TASK);
let runs = 0;
/** Keys no other test uses. */
const keysOf = (ids: readonly string[]) => {
  runs += 1;
  return ids.map((id) => `job:run${runs}:${id}`);
};

beforeAll(async () => {
  ({ client, tableName } = await freshIdempotencyTable('records'));
  counter = new CommandCounter(client);
});
afterAll(() => client?.destroy());

const records = (options: Partial<ConstructorParameters<typeof TaskRecords>[1]> = {}) =>
  new TaskRecords(client, { tableName, idPrefix, ttlSeconds: 3_600, ...options });
const calls = (name: string) => counter.sent.get(name) ?? 0;

describe('TaskRecords', () => {
  it.each([
    [{ tableName: '' }, 'Expected `tableName` to be a table name, got ""'],
    [{ idPrefix: '' }, 'Expected `idPrefix` to be a non-empty string, got ""'],
    [{ ttlSeconds: 0 }, 'Expected `ttlSeconds` to be an integer >= 1, got 0'],
    [{ maxAttempts: 1.5 }, 'Expected `maxAttempts` to be an integer >= 1, got 1.5'],
    [{ backoffMs: -1 }, 'Expected `backoffMs` to be an integer >= 0, got -1'],
    [{ timeoutMs: 0 }, 'Expected `timeoutMs` to be an integer >= 1, got 0'],
  ])('refuses %j, naming the option and the value', (bad, message) => {
    expect(() => records(bad)).toThrow(message);
  });

  it('reads back exactly what completed, each result as stored, in one read and ceil(n/25) writes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 120 }),
        fc.infiniteStream(fc.boolean()),
        async (ids, picks) => {
          const keys = keysOf(ids);
          const done = keys.filter(() => picks.next().value);
          const store = records();
          const writes = calls('BatchWriteItemCommand');
          // Completed in one tick: they go together, 25 a call.
          await Promise.all(
            done.map((key, i) => store.complete(key, { id: ids[i], ok: true, n: i, s: '€ "\u0000' })),
          );
          expect(calls('BatchWriteItemCommand') - writes).toBe(Math.ceil(done.length / 25));
          const reads = calls('BatchGetItemCommand');
          // Every key asked twice: a repeat is read once and answered for both.
          const found = await records().completed([...keys, ...keys]);
          expect(calls('BatchGetItemCommand') - reads).toBe(Math.ceil(keys.length / 100));
          expect([...found.keys()].sort()).toEqual([...done].sort());
          done.forEach((key, i) => {
            expect(found.get(key)).toEqual({ id: ids[i], ok: true, n: i, s: '€ "\u0000' });
          });
        },
      ),
      { numRuns: 15 },
    );
  });

  it('groups completions that arrive while a write is in flight, and every one is stored', async () => {
    const keys = keysOf(Array.from({ length: 60 }, (_, i) => `g${i}`));
    const store = records();
    const writes = calls('BatchWriteItemCommand');
    // One completion a macrotask: the first goes alone, the rest wait for the write in flight, then go together.
    const pending: Promise<void>[] = [];
    for (const key of keys) {
      pending.push(store.complete(key, { key }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    const sent = calls('BatchWriteItemCommand') - writes;
    expect(sent).toBeGreaterThanOrEqual(Math.ceil(60 / 25));
    expect(sent).toBeLessThan(60);
    expect((await store.completed(keys)).size).toBe(60);
  });

  it('a repeated key in one group is written once, its last result kept, every caller answered', async () => {
    const [key] = keysOf(['twice']);
    const store = records();
    const writes = calls('BatchWriteItemCommand');
    await Promise.all([store.complete(key, { n: 1 }), store.complete(key, { n: 2 })]);
    expect(calls('BatchWriteItemCommand') - writes).toBe(1);
    expect((await store.completed([key])).get(key)).toEqual({ n: 2 });
  });

  it('one record DynamoDB refuses (over 400 KB) fails alone: its neighbours in the same call are stored', async () => {
    const [big, ...small] = keysOf(['big', 's1', 's2', 's3']);
    const store = records();
    const outcomes = await Promise.allSettled([
      store.complete(big, { error: 'x'.repeat(500_000) }),
      ...small.map((key) => store.complete(key, { key })),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/size/i);
    const found = await store.completed([big, ...small]);
    expect([...found.keys()].sort()).toEqual([...small].sort());
  });

  it('a result that is not storable as attributes fails its own completion only', async () => {
    const [odd, fine] = keysOf(['odd', 'fine']);
    const store = records();
    const outcomes = await Promise.allSettled([
      store.complete(odd, { at: new Date(0) as unknown as string }),
      store.complete(fine, { ok: true }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled']);
    expect((await store.completed([odd, fine])).size).toBe(1);
    // The writer is not stuck behind the failure: a later completion is stored too.
    const [later] = keysOf(['later']);
    await store.complete(later, { ok: true });
    expect((await store.completed([later])).size).toBe(1);
  });

  it('keeps a record its TTL: read as completed until then, as absent after', async () => {
    const [key] = keysOf(['ttl']);
    const t0 = 1_900_000_000_000;
    await records({ ttlSeconds: 10, now: () => t0 }).complete(key, { ok: true });
    expect((await records({ now: () => t0 + 9_000 }).completed([key])).size).toBe(1);
    expect((await records({ now: () => t0 + 11_000 }).completed([key])).size).toBe(0);
  });

  it("is Powertools' own record both ways: same id, same attributes", async () => {
    const [ours, theirs] = keysOf(['ours', 'theirs']);
    const layer = new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: client });
    const options = idempotencyOptions(IdempotencyUses.TASK, layer, { idempotencyTtlSeconds: 3_600 });
    let ran = 0;
    const task = makeIdempotent(async ({ key }: { key: string }) => {
      ran += 1;
      return { id: key, ok: true };
    }, options);
    // Completed by Powertools: read here as completed, with its result.
    await task({ key: theirs });
    expect((await records().completed([theirs])).get(theirs)).toEqual({ id: theirs, ok: true });
    // Completed here: Powertools does not run it, and answers the stored result marked as a replay.
    await records().complete(ours, { id: ours, ok: true, status: 200 });
    expect(await task({ key: ours })).toEqual({ id: ours, ok: true, status: 200, duplicate: true });
    expect(ran).toBe(1);
  });
});

describe('TaskRecords, unprocessed items (a stub client: a mock)', () => {
  /** Answers each call with the next of `answers` (its unprocessed part), and keeps what was sent. */
  function stub(answers: ((input: Record<string, unknown>) => object)[]) {
    const sent: Record<string, unknown>[] = [];
    const fake = {
      send: async (command: { input: Record<string, unknown> }) => {
        sent.push(command.input);
        const answer = answers[Math.min(sent.length, answers.length) - 1];
        return answer(command.input);
      },
    } as unknown as DynamoDBClient;
    return { sent, fake };
  }
  const items = (input: Record<string, unknown>) =>
    (input.RequestItems as Record<string, { PutRequest: unknown }[]>).t;

  it('sends the unprocessed part of a write again, alone, until it goes', async () => {
    const { sent, fake } = stub([
      (input) => ({ UnprocessedItems: { t: items(input).slice(1) } }),
      () => ({ UnprocessedItems: {} }),
    ]);
    const store = new TaskRecords(fake, { tableName: 't', idPrefix: 'p', ttlSeconds: 60, backoffMs: 0 });
    await Promise.all(['a', 'b', 'c'].map((key) => store.complete(key, { key })));
    expect(sent.map((input) => items(input).length)).toEqual([3, 2]);
  });

  it('abandons a call that stalls after timeoutMs: its waiters fail, and the writes behind it go', async () => {
    let stall = true;
    const sent: string[] = [];
    const fake = {
      send: (command: { input: Record<string, unknown> }, options: { abortSignal: AbortSignal }) => {
        sent.push(JSON.stringify(command.input));
        if (!stall) return Promise.resolve({ UnprocessedItems: {}, Responses: { t: [] } });
        stall = false;
        // Never answers: only the abort signal ends it.
        return new Promise((_, reject) =>
          options.abortSignal.addEventListener('abort', () => reject(options.abortSignal.reason)),
        );
      },
    } as unknown as DynamoDBClient;
    const store = new TaskRecords(fake, { tableName: 't', idPrefix: 'p', ttlSeconds: 60, timeoutMs: 20 });
    const stalled = store.complete('a', { key: 'a' });
    // Once the first write is in flight: this one waits behind it.
    await new Promise((resolve) => setImmediate(resolve));
    const behind = store.complete('b', { key: 'b' });
    await expect(stalled).rejects.toThrow(/timeout|abort/i);
    await expect(behind).resolves.toBeUndefined();
    expect(sent).toHaveLength(2);
  });

  it('fails every waiter of a write still unprocessed after maxAttempts, and a read likewise', async () => {
    const { sent, fake } = stub([
      (input) =>
        input.RequestItems && 'Keys' in ((input.RequestItems as Record<string, object>).t ?? {})
          ? { Responses: { t: [] }, UnprocessedKeys: input.RequestItems }
          : { UnprocessedItems: input.RequestItems },
    ]);
    const store = new TaskRecords(fake, {
      tableName: 't',
      idPrefix: 'p',
      ttlSeconds: 60,
      maxAttempts: 3,
      backoffMs: 0,
    });
    const outcomes = await Promise.allSettled(['a', 'b'].map((key) => store.complete(key, { key })));
    expect(outcomes.map((o) => (o as PromiseRejectedResult).reason?.message)).toEqual([
      'task records: 2 item(s) of a batch write still unprocessed after 3 attempts',
      'task records: 2 item(s) of a batch write still unprocessed after 3 attempts',
    ]);
    expect(sent).toHaveLength(3);
    await expect(store.completed(['a'])).rejects.toThrow(
      'task records: 1 item(s) of a batch read still unprocessed after 3 attempts',
    );
    expect(sent).toHaveLength(6);
  });
});
