// A local run's job ledger once the run is over: its record (the report's status and counts), read through a
// ledger table opened on the local target for as long as one use of it lasts.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { JobLedgerTable } from '../lib/aws/job-ledger-table.js';
import type { FanoutConfig } from '../lib/config.js';
import type { RunRecord } from '../lib/ledger/run-record.js';
import { type AwsTarget, type LocalResources, localCredentials, ownDynamodbEndpoint } from './resources.js';

/** `use` of the local run's ledger table, on a client of its own that is let go once `use` settles. */
export async function withLocalLedger<T>(
  target: AwsTarget,
  resources: Pick<LocalResources, 'jobTable'>,
  config: Pick<FanoutConfig, 'resultsRetentionDays'>,
  use: (ledger: JobLedgerTable) => Promise<T>,
): Promise<T> {
  const dynamodb = new DynamoDBClient({
    endpoint: ownDynamodbEndpoint(target),
    region: target.region,
    credentials: localCredentials,
  });
  try {
    const ledger = new JobLedgerTable(dynamodb, {
      tableName: resources.jobTable,
      retentionDays: config.resultsRetentionDays,
    });
    return await use(ledger);
  } finally {
    dynamodb.destroy();
  }
}

export async function readRunRecord(
  target: AwsTarget,
  resources: Pick<LocalResources, 'jobTable'>,
  config: Pick<FanoutConfig, 'resultsRetentionDays'>,
  ids: { readonly jobId?: string; readonly runId?: string },
): Promise<RunRecord | undefined> {
  const { jobId, runId } = ids;
  if (!jobId || !runId) return undefined;
  return withLocalLedger(target, resources, config, (ledger) => ledger.getRun(jobId, runId));
}
