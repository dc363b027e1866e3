// A resume may come long after the kill (a machine off over a weekend): past idempotencyTtlSeconds (a day by
// default) the task records of the messages it puts back have expired, and the worker would send the tasks
// they say completed again, which `task` mode promises never happens. So before the messages go back, each of
// their tasks whose record says it completed, expired or not, is written again with a fresh expiration, by the
// worker's own TaskRecords (the same key, id and stored result).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IdempotencyUses, idempotencyKeyPrefix } from '../functions/idempotency.js';
import { taskRecordKey } from '../functions/task-runner.js';
import { TaskRecords } from '../lib/aws/task-records.js';
import { parseTaskMessage } from '../lib/fanout/messages.js';

export interface KeptRecordsTarget {
  readonly db: DynamoDBClient;
  readonly table: string;
  readonly ttlSeconds: number;
}

/** Renews the completed task records of `bodies`' tasks; how many it renewed. */
export async function keepCompletedTasks(
  { db, table, ttlSeconds }: KeptRecordsTarget,
  bodies: readonly string[],
): Promise<number> {
  const keys: string[] = [];
  for (const body of bodies) {
    const parsed = parseTaskMessage(body);
    if (!parsed.ok) continue;
    const { jobId, runId, tasks } = parsed.value;
    for (const task of tasks) keys.push(taskRecordKey(jobId, runId, task.id));
  }
  if (keys.length === 0) return 0;
  const options = { tableName: table, idPrefix: idempotencyKeyPrefix(IdempotencyUses.TASK), ttlSeconds };
  // Read as of the epoch, so an expired record is found too; written now, so it lasts another TTL.
  const found = await new TaskRecords(db, { ...options, now: () => 0 }).completed(keys);
  const records = new TaskRecords(db, options);
  await Promise.all([...found].map(([key, result]) => records.complete(key, result)));
  return found.size;
}
