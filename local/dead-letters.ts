// Reads the dead-letter queue after a run and counts the tasks of one run in it: dead-letter messages
// (tasks the orchestrator or the worker gave up on, each with its last error) and whole task messages
// SQS moved there after maxReceiveCount (every task in them ended unprocessed). The messages are made
// visible again afterwards, so they stay in the queue for a redrive.
import {
  ChangeMessageVisibilityBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { readDeadLetterBody } from '../lib/fanout/messages.js';
import { type SegmentCopy, SegmentCopySchema } from '../lib/fanout/segment-copy.js';
import type { JobTask } from '../lib/manifest/schema.js';

/** Invalid tasks listed in a report (the result object holds them all); the counts are always exact. */
export const MAX_LISTED = 1_000;

export interface DeadLetteredTask {
  readonly id: string;
  readonly attempts: number;
  readonly error: string;
  readonly source: 'orchestrator' | 'worker' | 'redrive';
  readonly task?: JobTask;
  /**
   * The orchestrator segment's copy that dead-lettered it: it is the run's only if that copy's settle counted
   * (local/report/dead-lettered.ts). None from a worker, or on a body whose copy does not read as one.
   */
  readonly copy?: SegmentCopy;
}

export interface DeadLetterCount {
  /** Tasks of the run found in the dead-letter queue (a task dead-lettered twice counts twice). */
  readonly tasks: number;
  /** Distinct task ids among them: below `tasks` when some task was dead-lettered more than once. */
  readonly distinct: number;
  readonly bySource: { readonly orchestrator: number; readonly worker: number; readonly redrive: number };
  /** Every one of them, so a retry can run them all (`run --retry-from`). */
  readonly listed: readonly DeadLetteredTask[];
  /** Bodies that are not messages of any run (malformed messages moved there by SQS). */
  readonly unreadable: number;
  /** Messages of other runs left in the same queue. */
  readonly otherRuns: number;
}

const REDRIVE_ERROR = 'moved to the dead-letter queue by SQS after maxReceiveCount receives';

export async function readDeadLetters(
  sqs: SQSClient,
  queueUrl: string,
  run: { jobId?: string; runId?: string },
): Promise<DeadLetterCount> {
  const tally = newTally();
  const held: Message[] = [];
  try {
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 120,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      if (Messages.length === 0) break;
      held.push(...Messages);
      for (const message of Messages) count(tally, message.Body ?? '', run);
    }
  } finally {
    await release(sqs, queueUrl, held);
  }
  const { bySource, ids, listed, unreadable, otherRuns } = tally;
  const tasks = bySource.orchestrator + bySource.worker + bySource.redrive;
  return { tasks, distinct: ids.size, bySource, listed, unreadable, otherRuns };
}

interface Tally {
  readonly bySource: { orchestrator: number; worker: number; redrive: number };
  readonly listed: DeadLetteredTask[];
  readonly ids: Set<string>;
  unreadable: number;
  otherRuns: number;
}

function newTally(): Tally {
  return {
    bySource: { orchestrator: 0, worker: 0, redrive: 0 },
    listed: [],
    ids: new Set(),
    unreadable: 0,
    otherRuns: 0,
  };
}

/** Counts one message of the queue: unreadable, of another run, or the tasks of this run it holds. */
function count(tally: Tally, body: string, run: { jobId?: string; runId?: string }): void {
  const read = readDeadLetterBody(body);
  if (read.kind === 'unreadable') {
    tally.unreadable++;
    return;
  }
  const { jobId, runId } = read.message;
  const mine =
    (run.jobId === undefined || run.jobId === jobId) && (run.runId === undefined || run.runId === runId);
  if (!mine) {
    tally.otherRuns++;
    return;
  }
  const list = (task: DeadLetteredTask) => {
    tally.bySource[task.source]++;
    tally.ids.add(task.id);
    tally.listed.push(task);
  };
  if (read.kind === 'dead-letter') {
    const source = read.message.source === 'worker' ? 'worker' : 'orchestrator';
    // The body is read as it is, unchecked: a copy that is not one names no segment to judge it by.
    const copy = SegmentCopySchema.safeParse(read.message.copy);
    const of = read.message.copy !== undefined && copy.success ? { copy: copy.data } : {};
    for (const t of read.message.tasks) {
      list({ id: t.task.id, attempts: t.attempts, error: t.error, source, task: t.task, ...of });
    }
  } else {
    for (const task of read.message.tasks) {
      list({ id: task.id, attempts: read.message.attempt, error: REDRIVE_ERROR, source: 'redrive', task });
    }
  }
}

/** Makes the messages read visible again at once. */
async function release(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.slice(i, i + 10).map((m, j) => ({
          Id: String(j),
          ReceiptHandle: m.ReceiptHandle!,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}
