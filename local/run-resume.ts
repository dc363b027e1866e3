// A resumed run (`run --state DIR --resume`): before the poller starts, the killed process's leftovers are put
// back. Its idempotency records still marked in progress are deleted (the process that held them is dead, and
// they would keep its tasks from running until they expire), and the messages it had sent and not settled are
// sent again to the fresh work queue, body for body: same keys, so what had completed is found completed (in
// `task` mode their tasks' records are renewed first, however long ago they expired: local/resume-records.ts).
// A message the job ledger had settled (its delivery died after the settle, before the journal closed it) is
// not in flight: closed if its follow-ups went out, else put back as a later receive (local/settled-open.ts).
import { DeleteItemCommand, DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { JobLedgerTable } from '../lib/aws/job-ledger-table.js';
import { type FanoutConfig, IdempotencyModes, idempotencyTableAttributes } from '../lib/config.js';
import { parseTaskMessage, parseWorkBody } from '../lib/fanout/messages.js';
import { taskMessagePacket } from '../lib/fanout/packets.js';
import { sendGroups } from '../lib/fanout/segment-ports.js';
import { SQS_MAX_DELAY_SECONDS } from '../lib/wire/sqs-limits.js';
import type { BackendInfo } from './backend.js';
import type { OpenMessage } from './queue-journal.js';
import { localCredentials, ownDynamodbEndpoint } from './resources.js';
import { keepCompletedTasks } from './resume-records.js';
import { sortOpen } from './settled-open.js';
import type { TaskLedger } from './task-ledger.js';

/** What a resume put back: the tasks in flight or queued at the kill, which may run a second time. */
export interface ResumeCounts {
  /** Messages sent again. */
  readonly messages: number;
  /** The tasks of those the ledger had not settled: in flight or queued at the kill, they may run twice. */
  readonly tasks: number;
  readonly inProgressCleared: number;
  /** Open messages the ledger had settled: none of their tasks runs again (closed, or back for their follow-ups). */
  readonly settled: number;
  /**
   * The process died inside the orchestrator's first segment, which was run again (local/segment-reread.ts):
   * the inline and invoke tasks it ran again (counted in `tasks` too).
   */
  readonly reread?: { readonly segments: number; readonly inline: number; readonly invoked: number };
}

export interface PutBack {
  readonly counts: ResumeCounts;
  /** The new ids of the messages put back as later receives (their ledger settled them: local/settled-open.ts). */
  readonly laterReceives: ReadonlySet<string>;
}

export async function putBack(target: PutBackTarget, journaled: readonly OpenMessage[]): Promise<PutBack> {
  const open = journaled.map(asTaskBody);
  const { sorted, inProgressCleared } = await readLeftovers(target, open);
  // Done but for their close, or sent again by a later receive put back: closed now, not sent from here.
  const superseded = new Set(sorted.superseded);
  target.ledger.closed([...sorted.done, ...superseded].map((m) => m.id));
  const again = [...sorted.unsettled.filter((m) => !superseded.has(m)), ...sorted.toHandOn];
  const later = new Set(sorted.toHandOn.map((m) => m.body));
  // One send per body: a body open under two ids (sent twice) is the same message, its key counted once.
  const ids = new Map<string, string[]>();
  for (const { id, body } of again) ids.set(body, [...(ids.get(body) ?? []), id]);
  // The tasks in flight or queued at the kill (a superseded follow-up's too: it goes out again), each body once.
  let tasks = 0;
  for (const body of new Set(sorted.unsettled.map((m) => m.body))) {
    const parsed = parseTaskMessage(body);
    if (parsed.ok) tasks += parsed.value.tasks.length;
  }
  const sent = await resend(target, ids, remainingDelays(again));
  const laterReceives = new Set([...sent].filter(([, body]) => later.has(body)).map(([id]) => id));
  // Each message once: one open under two ids (sent twice, or a resume killed between its send and its close).
  const settled = new Set([...sorted.done, ...sorted.toHandOn].map((m) => m.body)).size;
  return { counts: { messages: ids.size, tasks, inProgressCleared, settled }, laterReceives };
}

/**
 * A dead letter a `redrive` sent into the work queue as it was (local/edge-redrive-sends.ts), as the task message
 * the worker made of it under the id it is open under (parseWorkBody): its key stays its delivery's through the
 * put-back, so a settle of it is found (local/settled-open.ts), not taken for a new message whose tasks run again.
 */
function asTaskBody(message: OpenMessage): OpenMessage {
  if (parseTaskMessage(message.body).ok) return message;
  const work = parseWorkBody(message.body, message.id);
  return work.ok ? { ...message, body: taskMessagePacket('0', work.value).entry.MessageBody } : message;
}

/**
 * What the killed process left in the tables: which open messages the ledger had settled, and its idempotency
 * records in progress, deleted; in `task` mode the records of the tasks going back are renewed.
 */
async function readLeftovers(target: PutBackTarget, open: readonly OpenMessage[]) {
  const { backend, idempotencyTable, config } = target;
  const db = new DynamoDBClient({
    endpoint: ownDynamodbEndpoint(backend),
    region: backend.region,
    credentials: localCredentials,
  });
  try {
    const tableName = target.jobTable;
    const runs = new JobLedgerTable(db, { tableName, retentionDays: config.resultsRetentionDays });
    const runOf = (jobId: string, runId: string) => runs.getRun(jobId, runId);
    const sorted = await sortOpen({ db, jobTable: tableName, runOf }, open);
    const inProgressCleared = await clearInProgress(db, idempotencyTable);
    if (config.idempotency === IdempotencyModes.TASK) {
      const ttlSeconds = config.idempotencyTtlSeconds;
      const bodies = [...sorted.unsettled, ...sorted.toHandOn].map((m) => m.body);
      await keepCompletedTasks({ db, table: idempotencyTable, ttlSeconds }, bodies);
    }
    return { sorted, inProgressCleared };
  } finally {
    db.destroy();
  }
}

/** Sends each body of `ids` once (the ids it was open under replaced); the new ids and their bodies. */
async function resend(
  { sqs, queueUrl, ledger }: PutBackTarget,
  ids: ReadonlyMap<string, readonly string[]>,
  delays: ReadonlyMap<string, number>,
): Promise<Map<string, string>> {
  const sent = new Map<string, string>();
  for (const batch of bodyBatches([...ids.keys()])) {
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
      sent.set(ok.MessageId ?? '', body);
    }
  }
  return sent;
}

interface PutBackTarget {
  readonly backend: BackendInfo;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly idempotencyTable: string;
  readonly jobTable: string;
  readonly ledger: TaskLedger;
  readonly config: Pick<FanoutConfig, 'idempotency' | 'idempotencyTtlSeconds' | 'resultsRetentionDays'>;
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
