// Which run an orchestrator request began, on the job ledger's table: `request#<requestId>` / `origin`, holding
// the run's `jobId` and `runId`. Why it exists: Lambda reports an asynchronous invocation that failed for good
// with its request id and event (functions/orchestrator-failure.ts), and the report must break the run that
// event began. For a first segment read from S3, the run is named by the file's header; when that file cannot
// be read any more (deleted since), the report can name the run only from the event, the key and the request id,
// and a file that named its own job or run id would leave its run `running` for ever (under `schedule.overlap:
// forbid`, every later run of the job skipped). So the orchestrator notes such a run here before starting it.
// Origins expire with the table's TTL a day after they were written: Lambda's reports come within hours.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { InvalidArgumentError } from '../errors.js';
import { expiresAtSeconds, originKey } from '../ledger/ledger-keys.js';

export interface RunOriginsOptions {
  readonly tableName: string;
}

export interface RunIds {
  readonly jobId: string;
  readonly runId: string;
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

  /** Notes that the request `requestId` began the run `ids` (written again by its retries, to the same). */
  async note(requestId: string, { jobId, runId }: RunIds, atMs: number): Promise<void> {
    const Item = { ...originKey(requestId), jobId, runId, expiresAt: expiresAtSeconds(atMs, 1) };
    await this.#doc.send(new PutCommand({ TableName: this.#table, Item }));
  }

  /** The run the request began, undefined if none was noted. Strongly consistent. */
  async of(requestId: string): Promise<RunIds | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: originKey(requestId), ConsistentRead: true }),
    );
    if (typeof Item?.jobId !== 'string' || typeof Item.runId !== 'string') return undefined;
    return { jobId: Item.jobId, runId: Item.runId };
  }
}
