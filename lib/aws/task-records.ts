// The tasks that completed, in 'task' idempotency mode: one record each in the idempotency table, read a
// message at a time (BatchGetItem) before its tasks run, and written in groups (BatchWriteItem) as they succeed.
//
// Why not Powertools' makeIdempotent per task, as before: it keeps one record per call, claimed (a conditional
// PutItem) before the task and completed (an UpdateItem) after it: two writes and two round trips a task,
// which made per-task idempotency ~10x the CPU of a whole task without it. A claim keeps two deliveries of
// the same task from running at once; here every task runs inside its message's own claim (functions/worker.ts
// runs each message once per key, with Powertools, in 'message' and 'task' modes, SQS batches and Invokes
// alike), so a task needs no claim of its own, only a record that it completed, read before it could run again
// (a redelivery after a crash, a copy of the message). Per task: one write and one read capacity unit instead
// of two writes, and about 1/25 of a call to read plus a share of a grouped write.
//
// Group commit, no timer: the first completion goes one microtask later; those that arrive while a write is in
// flight wait and go together in the next (25 items a call, the BatchWriteItem limit; more go as several calls
// at once). What DynamoDB leaves unprocessed (throttling) is sent again after a backoff, up to maxAttempts; a
// call refused as invalid is tried item by item, so one record DynamoDB will not take fails alone; and a call
// is abandoned after timeoutMs, so a stalled one holds the completions behind it that long at most.
//
// The records have Powertools' shape, so they are compatible both ways: the same key (`<prefix>#` and the
// base64 MD5 of the JSON of the key, BasePersistenceLayer.getHashedIdempotencyKey with its default md5) and
// attributes (`id`, `expiration` in epoch seconds, `status` COMPLETED, `data` the stored result). A task
// completed by a worker before this change is not run again by one after it, and the reverse.
import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { idempotencyTableAttributes } from '../config.js';
import { assertInteger, InvalidArgumentError } from '../errors.js';

export interface TaskRecordsOptions {
  readonly tableName: string;
  /** The records' id prefix (Powertools' keyPrefix option; functions/idempotency.ts names them). */
  readonly idPrefix: string;
  /** How long a record is kept: its `expiration` is written this far ahead. */
  readonly ttlSeconds: number;
  /** Tries of a batch call's unprocessed part before its tasks fail (1 + retries); 5 unless given. */
  readonly maxAttempts?: number;
  /** The first backoff before an unprocessed part is sent again, doubled each time; 20 ms unless given. */
  readonly backoffMs?: number;
  /**
   * How long one batch call may take, its SDK retries included, before it is abandoned (its tasks then fail
   * to read, or count unrecorded): one stalled write must not hold every completion behind it. 5,000 ms.
   */
  readonly timeoutMs?: number;
  /** Epoch milliseconds; Date.now unless given (tests). */
  readonly now?: () => number;
}

/** What a completed task's record keeps: its stored result. */
export type StoredResult = Record<string, unknown>;

const MAX_READ = 100;
const MAX_WRITE = 25;
const COMPLETED = 'COMPLETED';
const { partitionKey: ID, timeToLive: EXPIRATION } = idempotencyTableAttributes;

interface Pending {
  readonly id: string;
  readonly item: StoredResult;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class TaskRecords {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #prefix: string;
  readonly #ttlSeconds: number;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #queue: Pending[] = [];
  #writing = false;

  constructor(
    client: DynamoDBClient,
    {
      tableName,
      idPrefix,
      ttlSeconds,
      maxAttempts = 5,
      backoffMs = 20,
      timeoutMs = 5_000,
      now = Date.now,
    }: TaskRecordsOptions,
  ) {
    if (typeof tableName !== 'string' || tableName === '')
      throw new InvalidArgumentError('tableName', tableName, 'a table name');
    if (typeof idPrefix !== 'string' || idPrefix === '')
      throw new InvalidArgumentError('idPrefix', idPrefix, 'a non-empty string');
    assertInteger('ttlSeconds', ttlSeconds);
    assertInteger('maxAttempts', maxAttempts);
    assertInteger('backoffMs', backoffMs, { min: 0 });
    assertInteger('timeoutMs', timeoutMs);
    this.#client = client;
    this.#table = tableName;
    this.#prefix = idPrefix;
    this.#ttlSeconds = ttlSeconds;
    this.#maxAttempts = maxAttempts;
    this.#backoffMs = backoffMs;
    this.#timeoutMs = timeoutMs;
    this.#now = now;
  }

  /** The record's id for `key`, as Powertools hashes it. */
  recordId(key: string): string {
    return `${this.#prefix}#${createHash('md5').update(JSON.stringify(key)).digest('base64')}`;
  }

  /** The stored results of the keys that completed and have not expired, by key; a strongly consistent read. */
  async completed(keys: readonly string[]): Promise<Map<string, StoredResult>> {
    // A key asked twice has one id: read once.
    const keyById = new Map(keys.map((key) => [this.recordId(key), key]));
    const ids = [...keyById.keys()];
    const found = new Map<string, StoredResult>();
    const reads = [];
    for (let i = 0; i < ids.length; i += MAX_READ) reads.push(this.#read(ids.slice(i, i + MAX_READ)));
    const nowSeconds = this.#now() / 1000;
    for (const items of await Promise.all(reads)) {
      for (const item of items) {
        const record = unmarshall(item);
        const key = keyById.get(String(record[ID]));
        if (key === undefined || record.status !== COMPLETED || !(Number(record[EXPIRATION]) >= nowSeconds))
          continue;
        found.set(key, (record.data ?? {}) as StoredResult);
      }
    }
    return found;
  }

  /** Records that `key` completed with `result`; resolves once it is stored, rejects if it could not be. */
  complete(key: string, result: StoredResult): Promise<void> {
    const id = this.recordId(key);
    const item = {
      [ID]: id,
      [EXPIRATION]: Math.round(this.#now() / 1000 + this.#ttlSeconds),
      status: COMPLETED,
      data: result,
    };
    return new Promise((resolve, reject) => {
      this.#queue.push({ id, item, resolve, reject });
      if (this.#writing) return;
      this.#writing = true;
      // One microtask later: the completions of this same tick go in the first write too.
      queueMicrotask(() => void this.#drain());
    });
  }

  /** Writes what waits, group after group, until nothing does. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const taken = this.#queue;
      this.#queue = [];
      const puts = groupById(taken).flatMap((group) => putOf(group));
      const calls = [];
      for (let i = 0; i < puts.length; i += MAX_WRITE) calls.push(this.#write(puts.slice(i, i + MAX_WRITE)));
      await Promise.all(calls);
    }
    this.#writing = false;
  }

  /**
   * One BatchWriteItem; every waiter settles, none throws. A call refused as invalid (an item DynamoDB will
   * not take) is tried again item by item, so one bad record never leaves its neighbours unwritten.
   */
  async #write(puts: readonly Put[]): Promise<void> {
    try {
      let unprocessed = puts.map((put) => put.request);
      for (let attempt = 1; unprocessed.length > 0; attempt++) {
        if (attempt > 1) await this.#backoff(attempt, 'write', unprocessed.length);
        const out = await this.#client.send(
          new BatchWriteItemCommand({ RequestItems: { [this.#table]: unprocessed } }),
          { abortSignal: AbortSignal.timeout(this.#timeoutMs) },
        );
        unprocessed = (out.UnprocessedItems?.[this.#table] ?? []) as typeof unprocessed;
      }
      for (const put of puts) for (const pending of put.group) pending.resolve();
    } catch (error) {
      // Refused whole for what is in it (an item too large): item by item. Not for a throttled, unreachable
      // or forbidden table, where 25 calls instead of one would only add load.
      if (puts.length > 1 && (error as { name?: string }).name === 'ValidationException') {
        await Promise.all(puts.map((put) => this.#write([put])));
        return;
      }
      for (const put of puts) for (const pending of put.group) pending.reject(error);
    }
  }

  /** One BatchGetItem of up to 100 distinct ids, its unprocessed keys asked again. */
  async #read(ids: readonly string[]): Promise<Record<string, never>[]> {
    const items: Record<string, never>[] = [];
    let keys = ids.map((id) => ({ [ID]: { S: id } }));
    for (let attempt = 1; keys.length > 0; attempt++) {
      if (attempt > 1) await this.#backoff(attempt, 'read', keys.length);
      const out = await this.#client.send(
        new BatchGetItemCommand({ RequestItems: { [this.#table]: { Keys: keys, ConsistentRead: true } } }),
        { abortSignal: AbortSignal.timeout(this.#timeoutMs) },
      );
      items.push(...((out.Responses?.[this.#table] ?? []) as Record<string, never>[]));
      keys = (out.UnprocessedKeys?.[this.#table]?.Keys ?? []) as typeof keys;
    }
    return items;
  }

  async #backoff(attempt: number, what: string, left: number): Promise<void> {
    if (attempt > this.#maxAttempts) {
      throw new Error(
        `task records: ${left} item(s) of a batch ${what} still unprocessed after ${this.#maxAttempts} attempts`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, this.#backoffMs * 2 ** (attempt - 2)));
  }
}

/** One record id's PutRequest (its last result wins) and the completions waiting on it. */
interface Put {
  readonly request: { PutRequest: { Item: Record<string, AttributeValue> } };
  readonly group: readonly Pending[];
}

/** The pending completions by record id, in order of first arrival. */
function groupById(pending: readonly Pending[]): Pending[][] {
  const groups = new Map<string, Pending[]>();
  for (const p of pending) {
    const group = groups.get(p.id);
    if (group) group.push(p);
    else groups.set(p.id, [p]);
  }
  return [...groups.values()];
}

/** The group's PutRequest; a result that cannot be stored as DynamoDB attributes fails its own waiters alone. */
function putOf(group: readonly Pending[]): Put[] {
  try {
    const Item = marshall(group[group.length - 1].item, { removeUndefinedValues: true });
    return [{ request: { PutRequest: { Item } }, group }];
  } catch (error) {
    for (const pending of group) pending.reject(error);
    return [];
  }
}
