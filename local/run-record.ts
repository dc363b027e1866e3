// Reads a local run's record from the job ledger once the run is over: the report's status and counts.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { JobLedgerTable } from '../lib/aws/job-ledger-table.js';
import type { FanoutConfig } from '../lib/config.js';
import type { RunRecord } from '../lib/ledger/run-record.js';
import { type AwsTarget, type LocalResources, localCredentials } from './resources.js';

export async function readRunRecord(
  target: AwsTarget,
  resources: Pick<LocalResources, 'jobTable'>,
  config: Pick<FanoutConfig, 'resultsRetentionDays'>,
  ids: { readonly jobId?: string; readonly runId?: string },
): Promise<RunRecord | undefined> {
  if (!ids.jobId || !ids.runId) return undefined;
  const dynamodb = new DynamoDBClient({
    endpoint: target.endpoints.dynamodb,
    region: target.region,
    credentials: localCredentials,
  });
  try {
    const ledger = new JobLedgerTable(dynamodb, {
      tableName: resources.jobTable,
      retentionDays: config.resultsRetentionDays,
    });
    return await ledger.getRun(ids.jobId, ids.runId);
  } finally {
    dynamodb.destroy();
  }
}
