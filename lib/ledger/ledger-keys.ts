// The job table's layout (keys from lib/config.ts jobTableAttributes: pk, sk, TTL expiresAt). Pure: the
// DynamoDB store (lib/aws/job-ledger-table.ts) builds every key here, so the layout is read in one place.
//
//   run record     pk `job#<jobId>`           sk `run#<runId>`    counts, status, limits, version
//   latest pointer pk `job#<jobId>`           sk `latest`         runId of the job's newest started run
//   settle marker  pk `run#<jobId>#<runId>`   sk `settle#<key>`   one per settled unit of work, with a TTL
//
// Why this split: a job's partition holds only its runs and the pointer, so `runs --job` is one small Query
// however many messages the runs settled; the markers (one per SQS message, segment or invoke chunk) sit on
// a partition of their own per run, which DynamoDB spreads as it grows. The one hot item is the run record:
// every settle adds to it. DynamoDB takes about 1,000 WCU/s on one item and a transactional write costs
// double (2 WCU per KB), so one run settles at most about 500 messages/s; that is why a settle is one write
// per message (packed tasks), never one per task.
//
// Job and run ids are `[A-Za-z0-9._:-]` (lib/manifest/schema.ts JobIdSchema): no `#`, so `run#<jobId>#<runId>`
// names one run only.

export const LATEST_SORT_KEY = 'latest';
export const RUN_SORT_PREFIX = 'run#';
export const SETTLE_SORT_PREFIX = 'settle#';

export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

/** The partition of a job: its run records and its latest-run pointer. */
export function jobPartition(jobId: string): string {
  return `job#${jobId}`;
}

export function runKey(jobId: string, runId: string): TableKey {
  return { pk: jobPartition(jobId), sk: `${RUN_SORT_PREFIX}${runId}` };
}

export function latestKey(jobId: string): TableKey {
  return { pk: jobPartition(jobId), sk: LATEST_SORT_KEY };
}

export function settleKey(jobId: string, runId: string, key: string): TableKey {
  return { pk: `run#${jobId}#${runId}`, sk: `${SETTLE_SORT_PREFIX}${key}` };
}

/** Seconds since the epoch at which DynamoDB's TTL may delete an item written at `nowMs`. */
export function expiresAtSeconds(nowMs: number, retentionDays: number): number {
  return Math.floor(nowMs / 1000) + retentionDays * 86_400;
}
