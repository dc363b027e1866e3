// Which run an orchestrator request began, and from which version of its S3 manifest, on the job ledger's table:
// `request#<requestId>` / `origin`, holding the run's `jobId`, `runId` and the object's `etag`. Why it exists:
// - Lambda reports an asynchronous invocation that failed for good with its request id and event
//   (functions/orchestrator-failure.ts), and the report must break the run that event began. The file may be
//   gone by then, or rewritten at its fixed key with the next run's ids: the report reads the origin first.
// - Lambda's retries of the request read the file again. Rewritten since, it would name another run, or give the
//   same run other tasks: a retry that finds the origin pinned to another version fails instead (RunOrigins.note
//   answers the origin it found), and the report then breaks the run the request began.
// Written before the run starts, by every attempt, only where none is or the same is. Origins expire with the
// table's TTL a day after they were written: Lambda's retries and reports come within hours.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, type PutCommandInput } from '@aws-sdk/lib-dynamodb';
import { InvalidArgumentError } from '../errors.js';
import { expiresAtSeconds, originKey } from '../ledger/ledger-keys.js';

export interface RunOriginsOptions {
  readonly tableName: string;
}

export interface RunIds {
  readonly jobId: string;
  readonly runId: string;
}

/** A run and the version of the manifest its request read (`''` when the store gave none). */
export interface RunOrigin extends RunIds {
  readonly etag: string;
}

export class RunOrigins {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, options: RunOriginsOptions) {
    const { tableName } = options ?? ({} as RunOriginsOptions);
    if (typeof tableName !== 'string' || tableName === '')
      throw new InvalidArgumentError('tableName', tableName, 'a table name');
    this.#doc = DynamoDBDocumentClient.from(client);
    this.#table = tableName;
  }

  /**
   * Notes that the request `requestId` began `origin`, unless it began another (other ids, or another version
   * of the file): undefined when noted (or noted the same before), else the origin found.
   */
  async note(requestId: string, origin: RunOrigin, atMs: number): Promise<RunOrigin | undefined> {
    const { jobId, runId, etag } = origin;
    // An origin noted before origins held an ETag (a deploy between Lambda's attempts) names the same run with
    // no version: the retry's is taken, where it would otherwise fail a file never changed.
    const written = await this.#put(requestId, origin, atMs, {
      ConditionExpression:
        'attribute_not_exists(pk) OR (jobId = :j AND runId = :r AND (etag = :e OR attribute_not_exists(etag)))',
      ExpressionAttributeValues: { ':j': jobId, ':r': runId, ':e': etag },
    });
    return written ? undefined : this.of(requestId);
  }

  /**
   * Moves the request's origin from `was` (as `note` answered it) to `origin`, for an attempt whose request began
   * no run (functions/run-origin.ts): false when the origin is not `was` any more (another attempt moved it).
   */
  repin(requestId: string, was: RunOrigin, origin: RunOrigin, atMs: number): Promise<boolean> {
    // `of` answers '' for an etag noted empty and for none noted (before origins held one): either is `was`.
    return this.#put(requestId, origin, atMs, {
      ConditionExpression: `jobId = :j AND runId = :r AND (etag = :e${was.etag ? '' : ' OR attribute_not_exists(etag)'})`,
      ExpressionAttributeValues: { ':j': was.jobId, ':r': was.runId, ':e': was.etag },
    });
  }

  /** Puts `origin` under the request if `condition` holds: false when it does not. */
  async #put(
    requestId: string,
    { jobId, runId, etag }: RunOrigin,
    atMs: number,
    condition: Pick<PutCommandInput, 'ConditionExpression' | 'ExpressionAttributeValues'>,
  ): Promise<boolean> {
    const Item = { ...originKey(requestId), jobId, runId, etag, expiresAt: expiresAtSeconds(atMs, 1) };
    try {
      await this.#doc.send(new PutCommand({ TableName: this.#table, Item, ...condition }));
      return true;
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      return false;
    }
  }

  /** The run the request began, undefined if none was noted. Strongly consistent. */
  async of(requestId: string): Promise<RunOrigin | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: originKey(requestId), ConsistentRead: true }),
    );
    if (typeof Item?.jobId !== 'string' || typeof Item.runId !== 'string') return undefined;
    return { jobId: Item.jobId, runId: Item.runId, etag: typeof Item.etag === 'string' ? Item.etag : '' };
  }
}
