// Hand-written, part of the product: the DynamoDB LeaseStore (lib/downstream/lease-store.ts) on the job
// ledger's table (issue 17). One partition per host, `lease#<host>`: an item `count` with the permits every
// lease holds (`inUse`), and an item `holder#<id>` per lease (permits, version, expiresAt). Every call is one
// transaction whose conditions DynamoDB checks: the count may grow only while `inUse + delta <= cap`, a lease
// changes only at the version its holder saw, and an expired lease is deleted (its permits taken off the
// count) only at the version that expired. So N processes racing for one host can never push the count past
// the cap, and two processes reclaiming the same dead lease cannot both subtract it.
//
// Reads (one consistent Query of the partition) are free of conditions; a transaction that loses a race
// (another writer got there first) reads again and retries, a bounded number of times.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { LeaseAnswer, LeaseRequest, LeaseStore } from '../downstream/lease-store.js';
import { InvalidArgumentError } from '../errors.js';
import { failedConditions, isConflict } from './ledger-transact.js';

export interface LeaseTableOptions {
  readonly tableName: string;
}

type Items = NonNullable<TransactWriteCommandInput['TransactItems']>;

interface HolderItem {
  readonly id: string;
  readonly permits: number;
  readonly version: number;
  readonly expiresAt: number;
}

/** Expired leases reclaimed per call: a transaction holds at most 100 actions; a few per call drain them. */
const RECLAIM_PER_CALL = 8;
/** Races lost (another writer moved the count or a lease first) before the call gives up with an error. */
const RACE_ATTEMPTS = 8;
const COUNT = 'count';
const HOLDER = 'holder#';

export const leasePartition = (host: string) => `lease#${host}`;

export class LeaseTable implements LeaseStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  /** Transactions sent (each one billed write per item it touches): the figure the cost table prices. */
  writes = 0;

  constructor(client: DynamoDBClient, options: LeaseTableOptions) {
    const { tableName } = options ?? ({} as LeaseTableOptions);
    if (typeof tableName !== 'string' || tableName === '')
      throw new InvalidArgumentError('tableName', tableName, 'a table name');
    this.#doc = DynamoDBDocumentClient.from(client);
    this.#table = tableName;
  }

  take(r: LeaseRequest & { readonly permits: number; readonly cap: number }): Promise<LeaseAnswer> {
    return this.#race(r, (inUse, held, expired) => {
      const back = expired.reduce((sum, h) => sum + h.permits, 0);
      const grant = Math.min(r.permits, Math.max(0, r.cap - (inUse - back)));
      const permits = (held?.permits ?? 0) + grant;
      return { delta: grant - back, expired, permits, cap: r.cap };
    });
  }

  give(r: LeaseRequest & { readonly permits: number }): Promise<LeaseAnswer> {
    return this.#race(r, (_inUse, held) => {
      if (!held) return undefined;
      const permits = Math.max(0, held.permits - r.permits);
      return { delta: permits - held.permits, expired: [], permits, cap: Number.POSITIVE_INFINITY };
    });
  }

  /** Permits the host's leases hold, expired or not (the count item). */
  async inUse(host: string): Promise<number> {
    return (await this.#read(host)).inUse;
  }

  async #race(
    r: LeaseRequest,
    plan: (
      inUse: number,
      held: HolderItem | undefined,
      expired: HolderItem[],
    ) => { delta: number; expired: HolderItem[]; permits: number; cap: number } | undefined,
  ): Promise<LeaseAnswer> {
    for (let attempt = 0; ; attempt++) {
      const { inUse, holders } = await this.#read(r.host);
      const held = holders.find((h) => h.id === r.holder);
      if ((held?.version ?? 0) !== r.version) return { ok: false, lost: true };
      const expired = holders
        .filter((h) => h.id !== r.holder && h.expiresAt < r.now)
        .slice(0, RECLAIM_PER_CALL);
      const step = plan(inUse, held, expired);
      if (!step) return { ok: false, lost: true };
      const answer =
        step.permits === 0
          ? { ok: true as const, permits: 0, version: 0, expiresAt: r.now }
          : { ok: true as const, permits: step.permits, version: r.version + 1, expiresAt: r.now + r.ttlMs };
      // A renewal moves no count: one item, one write.
      const items = [
        ...(step.delta === 0 ? [] : [this.#countItem(r.host, step.delta, step.cap)]),
        this.#holderItem(r, answer),
        ...step.expired.map((h) => this.#reclaimItem(r.host, h)),
      ];
      const outcome = await this.#send(items);
      if (outcome === 'ok') return answer;
      // The holder's own condition failed: its lease was taken back (or moved) under it.
      if (outcome[step.delta === 0 ? 0 : 1]) return { ok: false, lost: true };
      if (attempt + 1 >= RACE_ATTEMPTS)
        throw new Error(`lease store: ${r.host} still contended after ${RACE_ATTEMPTS} attempts`);
    }
  }

  /** The count may move by `delta` only while the result stays within `cap` (a give has no cap). */
  #countItem(host: string, delta: number, cap: number): Items[number] {
    const bounded = Number.isFinite(cap) && delta > 0;
    return {
      Update: {
        TableName: this.#table,
        Key: { pk: leasePartition(host), sk: COUNT },
        UpdateExpression: 'ADD inUse :delta',
        ...(bounded ? { ConditionExpression: 'attribute_not_exists(inUse) OR inUse <= :max' } : {}),
        ExpressionAttributeValues: { ':delta': delta, ...(bounded ? { ':max': cap - delta } : {}) },
      },
    };
  }

  #holderItem(r: LeaseRequest, next: { permits: number; version: number; expiresAt: number }): Items[number] {
    const Key = { pk: leasePartition(r.host), sk: `${HOLDER}${r.holder}` };
    const ConditionExpression = r.version === 0 ? 'attribute_not_exists(pk)' : 'version = :seen';
    const seen = r.version === 0 ? {} : { ':seen': r.version };
    if (next.permits === 0) {
      if (r.version === 0) return { ConditionCheck: { TableName: this.#table, Key, ConditionExpression } };
      return {
        Delete: { TableName: this.#table, Key, ConditionExpression, ExpressionAttributeValues: seen },
      };
    }
    return {
      Update: {
        TableName: this.#table,
        Key,
        UpdateExpression: 'SET permits = :p, version = :v, expiresAt = :e',
        ConditionExpression,
        ExpressionAttributeValues: { ...seen, ':p': next.permits, ':v': next.version, ':e': next.expiresAt },
      },
    };
  }

  /** Deletes an expired lease only at the version that expired: two reclaimers cannot both count it. */
  #reclaimItem(host: string, h: HolderItem): Items[number] {
    return {
      Delete: {
        TableName: this.#table,
        Key: { pk: leasePartition(host), sk: `${HOLDER}${h.id}` },
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':v': h.version },
      },
    };
  }

  async #send(items: Items): Promise<'ok' | boolean[]> {
    this.writes++;
    try {
      await this.#doc.send(new TransactWriteCommand({ TransactItems: items }));
      return 'ok';
    } catch (error) {
      const failed = failedConditions(error);
      if (failed) return failed;
      if (isConflict(error)) return items.map(() => false);
      throw error;
    }
  }

  async #read(host: string): Promise<{ inUse: number; holders: HolderItem[] }> {
    let inUse = 0;
    const holders: HolderItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': leasePartition(host) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const sk = String(item.sk);
        if (sk === COUNT) inUse = Number(item.inUse ?? 0);
        else if (sk.startsWith(HOLDER)) {
          const { permits, version, expiresAt } = item as Record<string, number>;
          holders.push({ id: sk.slice(HOLDER.length), permits, version, expiresAt });
        }
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { inUse, holders };
  }
}
