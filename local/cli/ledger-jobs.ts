// `bounded-fanout status` without --job: the latest run of every job in the table. The port has no list of
// jobs, so this reads the table's latest-run pointers (lib/ledger/ledger-keys.ts) with a filtered Scan. A Scan
// reads every item, settle markers included, until their TTL removes them: fine for an operator's look,
// and the help says to prefer --job on a busy table.
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { jobTableAttributes } from '../../lib/config.js';
import { LATEST_SORT_KEY } from '../../lib/ledger/ledger-keys.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import type { LedgerTarget } from './ledger-target.js';

const JOB_PREFIX = 'job#';

/** Every job id with a latest-run pointer, sorted. */
export async function jobIds(dynamodb: DynamoDBClient, tableName: string): Promise<string[]> {
  const ids: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: '#sk = :latest',
        ProjectionExpression: '#pk',
        ExpressionAttributeNames: {
          '#sk': jobTableAttributes.sortKey,
          '#pk': jobTableAttributes.partitionKey,
        },
        ExpressionAttributeValues: { ':latest': { S: LATEST_SORT_KEY } },
        ...(start ? { ExclusiveStartKey: start as never } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      const pk = item[jobTableAttributes.partitionKey]?.S;
      if (pk?.startsWith(JOB_PREFIX)) ids.push(pk.slice(JOB_PREFIX.length));
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return ids.sort();
}

/** The latest run of every job in the table. */
export async function latestRuns(target: LedgerTarget): Promise<RunRecord[]> {
  const ids = await target.scanJobIds();
  const records = await Promise.all(ids.map((id) => target.ledger.getRun(id)));
  return records.filter((r): r is RunRecord => r !== undefined);
}
