// A running orchestrator segment's heartbeat on the job ledger's table (functions/segment-heartbeat.ts): one item
// per run and segment, `run#<jobId>#<runId>` / `beat#<segment>`, holding when the segment's attempt last said it
// was alive. Why it exists: an attempt that dies without an error (out of memory, the process gone) leaves its
// segment's idempotency record in progress until that attempt's deadline, so Lambda's retries of the event find
// it so and answer `duplicate`; a retry that finds the beat stale knows the holder is dead and runs the segment.
// A segment's first beat is written before its attempt claims the segment (firstBeat), so a holder that dies
// right after its claim has beaten once, and is told dead like any other. Beats expire with the table's TTL a
// day after they were last written.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { InvalidArgumentError } from '../errors.js';
import { beatKey, expiresAtSeconds } from '../ledger/ledger-keys.js';

export interface SegmentBeatsOptions {
  readonly tableName: string;
}

export interface SegmentIds {
  readonly jobId: string;
  readonly runId: string;
  readonly segment: number;
}

export class SegmentBeats {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, options: SegmentBeatsOptions) {
    const { tableName } = options ?? ({} as SegmentBeatsOptions);
    if (typeof tableName !== 'string' || tableName === '')
      throw new InvalidArgumentError('tableName', tableName, 'a table name');
    this.#doc = DynamoDBDocumentClient.from(client);
    this.#table = tableName;
  }

  /** Notes that the segment's attempt is alive at `atMs` (epoch ms). */
  async beat({ jobId, runId, segment }: SegmentIds, atMs: number): Promise<void> {
    const Item = { ...beatKey(jobId, runId, segment), at: atMs, expiresAt: expiresAtSeconds(atMs, 1) };
    await this.#doc.send(new PutCommand({ TableName: this.#table, Item }));
  }

  /**
   * Beats at `atMs` when the segment has no beat yet: true when this wrote it. A beat already there is kept, so
   * a copy arriving beside a holder (live or dead) never makes it look alive.
   */
  async firstBeat({ jobId, runId, segment }: SegmentIds, atMs: number): Promise<boolean> {
    const Item = { ...beatKey(jobId, runId, segment), at: atMs, expiresAt: expiresAtSeconds(atMs, 1) };
    try {
      await this.#doc.send(
        new PutCommand({ TableName: this.#table, Item, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** When the segment's attempt last beat (epoch ms), undefined if none ever did. Strongly consistent. */
  async lastBeat({ jobId, runId, segment }: SegmentIds): Promise<number | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: beatKey(jobId, runId, segment), ConsistentRead: true }),
    );
    return typeof Item?.at === 'number' ? Item.at : undefined;
  }
}
