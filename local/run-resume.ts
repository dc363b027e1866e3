// A resumed run (`run --state DIR --resume`): before the poller starts, the killed process's leftovers are put
// back. Its idempotency records still marked in progress are deleted (the process that held them is dead, and
// they would keep its tasks from running until they expire), and the messages it had sent and not settled are
// sent again to the fresh work queue, body for body: same keys, so what had completed is found completed (in
// `task` mode their tasks' records are renewed first, however long ago they expired: local/resume-records.ts).
import { DeleteItemCommand, DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type FanoutConfig, IdempotencyModes, idempotencyTableAttributes } from '../lib/config.js';
import { parseTaskMessage } from '../lib/fanout/messages.js';
import { sendGroups } from '../lib/fanout/segment-ports.js';
import { SQS_MAX_DELAY_SECONDS } from '../lib/wire/sqs-limits.js';
import type { BackendInfo } from './backend.js';
import type { OpenMessage } from './queue-journal.js';
import { localCredentials, ownDynamodbEndpoint } from './resources.js';
import { keepCompletedTasks } from './resume-records.js';
import type { TaskLedger } from './task-ledger.js';

/** What a resume put back: the tasks in flight or queued at the kill, which may run a second time. */
export interface ResumeCounts {
  readonly messages: number;
  readonly tasks: number;
  readonly inProgressCleared: number;
}

export async function putBack(target: PutBackTarget, open: readonly OpenMessage[]): Promise<ResumeCounts> {
  const { backend, sqs, queueUrl, idempotencyTable, ledger, config } = target;
  // One send per body: a body open under two ids (sent twice) is the same message, its key counted once.
  const ids = new Map<string, string[]>();
  for (const { id, body } of open) ids.set(body, [...(ids.get(body) ?? []), id]);
  const bodies = [...ids.keys()];
  const delays = remainingDelays(open);
  const db = new DynamoDBClient({
    endpoint: ownDynamodbEndpoint(backend),
    region: backend.region,
    credentials: localCredentials,
  });
  let inProgressCleared: number;
  try {
    inProgressCleared = await clearInProgress(db, idempotencyTable);
    if (config.idempotency === IdempotencyModes.TASK) {
      const ttlSeconds = config.idempotencyTtlSeconds;
      await keepCompletedTasks({ db, table: idempotencyTable, ttlSeconds }, bodies);
    }
  } finally {
    db.destroy();
  }
  let tasks = 0;
  for (const body of bodies) {
    const parsed = parseTaskMessage(body);
    if (parsed.ok) tasks += parsed.value.tasks.length;
  }
  for (const batch of bodyBatches(bodies)) {
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((body, j) => ({
          Id: String(j),
          MessageBody: body,
          ...(delays.has(body) ? { DelaySeconds: delays.get(body) } : {}),
        })),
      }),
    );
    if (out.Failed?.length) {
      throw new Error(
        `the resume could not re-send ${out.Failed.length} message(s): ${out.Failed[0].Message}`,
      );
    }
    // The re-send is journaled open first, then the ids it replaces closed: a kill between the two leaves a
    // body open twice (sent once more by the next resume, the same key), never not at all. Closed, a body is
    // not sent again by a later resume of this run once its new message is settled.
    for (const ok of out.Successful ?? []) {
      const body = batch[Number(ok.Id)];
      ledger.resent(ok.MessageId ?? '', body, ids.get(body) ?? [], delays.get(body));
    }
  }
  return { messages: bodies.length, tasks, inProgressCleared };
}

interface PutBackTarget {
  readonly backend: BackendInfo;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly idempotencyTable: string;
  readonly ledger: TaskLedger;
  readonly config: Pick<FanoutConfig, 'idempotency' | 'idempotencyTtlSeconds'>;
}

/**
 * The delay left, in seconds, of each body sent with one (a retry's backoff, a Retry-After its target asked
 * for) and not yet due: put back at once, its tasks would reach their target before it said they may.
 */
function remainingDelays(open: readonly OpenMessage[], now = Date.now()): Map<string, number> {
  const delays = new Map<string, number>();
  for (const { body, visibleAt } of open) {
    const left = Math.min(SQS_MAX_DELAY_SECONDS, Math.ceil(((visibleAt ?? now) - now) / 1000));
    if (left > 0) delays.set(body, Math.max(left, delays.get(body) ?? 0));
  }
  return delays;
}

/**
 * The bodies in order, in SendMessageBatch calls of at most 10 and 256 KiB in all, by the orchestrator's own
 * send batcher (a larger body alone): a queue may hold up to 10 messages of up to 256 KiB each, and SQS refuses
 * a batch over its total size whole, which would refuse every resume of the run alike.
 */
function bodyBatches(bodies: readonly string[]): string[][] {
  return sendGroups(bodies, (body) => Buffer.byteLength(body, 'utf8'));
}

/** Deletes the idempotency records left INPROGRESS (Powertools' status attribute) by the killed process. */
async function clearInProgress(db: DynamoDBClient, table: string): Promise<number> {
  const key = idempotencyTableAttributes.partitionKey;
  let cleared = 0;
  const pages = paginateScan(
    { client: db },
    {
      TableName: table,
      FilterExpression: '#s = :p',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':p': { S: 'INPROGRESS' } },
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      await db.send(new DeleteItemCommand({ TableName: table, Key: { [key]: item[key] } }));
      cleared += 1;
    }
  }
  return cleared;
}
