// Hand-written, part of the product: the DynamoDB RateStore (lib/downstream/lease-store.ts) on the job
// ledger's table (issue 17): a host's fleet-wide rate as one counter per time slice, `rate#<host>` /
// `slice#<n>`, that only grows while `taken + block <= limit` (a condition DynamoDB checks). A block that does
// not fit whole is cut to what is left, read from the refused write, so one call costs one write, two (and a
// read) when the slice is nearly spent. Slices expire with the table's TTL.
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RateStore } from '../downstream/lease-store.js';
import { InvalidArgumentError } from '../errors.js';

export interface RateSlicesOptions {
  readonly tableName: string;
  /** The slice's length, for its TTL. Default 1 s. */
  readonly sliceMs?: number;
}

/** Attempts when other processes take the slice's last tokens between our read and our write. */
const ATTEMPTS = 4;
/** Slices live this long after they start (DynamoDB's TTL deletes them within a day or two anyway). */
const SLICE_LIFE_S = 3600;

export class RateSlices implements RateStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #sliceMs: number;
  writes = 0;

  constructor(client: DynamoDBClient, options: RateSlicesOptions) {
    const { tableName, sliceMs = 1_000 } = options ?? ({} as RateSlicesOptions);
    if (typeof tableName !== 'string' || tableName === '')
      throw new InvalidArgumentError('tableName', tableName, 'a table name');
    this.#doc = DynamoDBDocumentClient.from(client);
    this.#table = tableName;
    this.#sliceMs = sliceMs;
  }

  async takeTokens(r: { host: string; slice: number; tokens: number; limit: number }): Promise<number> {
    let tokens = Math.min(r.tokens, r.limit);
    for (let attempt = 0; attempt < ATTEMPTS && tokens > 0; attempt++) {
      this.writes++;
      try {
        await this.#doc.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { pk: `rate#${r.host}`, sk: `slice#${r.slice}` },
            UpdateExpression: 'ADD taken :n SET expiresAt = :e',
            ConditionExpression: 'attribute_not_exists(taken) OR taken <= :max',
            ExpressionAttributeValues: {
              ':n': tokens,
              ':max': r.limit - tokens,
              ':e': Math.ceil((r.slice * this.#sliceMs) / 1000) + SLICE_LIFE_S,
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return tokens;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // DynamoDB hands the refused item back; an emulator that does not is read once more.
        const taken = Number(error.Item?.taken?.N ?? (await this.#taken(r.host, r.slice)));
        tokens = Math.min(tokens, r.limit - taken);
      }
    }
    return 0;
  }

  async #taken(host: string, slice: number): Promise<number> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: `rate#${host}`, sk: `slice#${slice}` },
        ConsistentRead: true,
      }),
    );
    return Number(Item?.taken ?? 0);
  }
}
