// A run's limit overrides while it runs, for the progress display: `bounded-fanout limits` from another terminal
// writes them to the run's ledger record, which the functions read again every 2 s; this reads it as often, on a
// client of its own that goes straight to the DynamoDB front (not through the endpoint: local/dynamo-readers.ts
// counts only outside clients' reads there). A read that fails is skipped: the display keeps what it showed.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { JobLedgerTable } from '../../lib/aws/job-ledger-table.js';
import type { RunLimits } from '../../lib/ledger/run-record.js';
import { type AwsTarget, localCredentials, ownDynamodbEndpoint } from '../resources.js';

export interface RunLimitsFollowerOptions {
  readonly target: AwsTarget;
  readonly tableName: string;
  readonly retentionDays: number;
  readonly jobId: string;
  /** The header's run id; without one, the job's latest run (the one this process started). */
  readonly runId?: string;
  /** Called with the record's overrides whenever they differ from the last ones seen. */
  readonly onLimits: (limits: RunLimits | undefined) => void;
  readonly periodMs?: number;
}

export class RunLimitsFollower {
  readonly #options: RunLimitsFollowerOptions;
  #client?: DynamoDBClient;
  #timer?: NodeJS.Timeout;
  #reading = false;
  #last = JSON.stringify(undefined);

  constructor(options: RunLimitsFollowerOptions) {
    this.#options = options;
  }

  start(): void {
    const { target, tableName, retentionDays, periodMs = 2_000 } = this.#options;
    this.#client = new DynamoDBClient({
      endpoint: ownDynamodbEndpoint(target),
      region: target.region,
      credentials: localCredentials,
    });
    const ledger = new JobLedgerTable(this.#client, { tableName, retentionDays });
    this.#timer = setInterval(() => void this.#read(ledger), periodMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#client?.destroy();
    this.#client = undefined;
  }

  async #read(ledger: JobLedgerTable): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      const record = await ledger.getRun(this.#options.jobId, this.#options.runId);
      const seen = JSON.stringify(record?.limits);
      if (record && seen !== this.#last && this.#timer) {
        this.#last = seen;
        this.#options.onLimits(record.limits);
      }
    } catch {
      // Not there yet (the orchestrator has not opened the run), or a read that failed: the next one may do.
    } finally {
      this.#reading = false;
    }
  }
}
