// `bounded-fanout redrive`'s receive-and-resend drain, for an endpoint without SQS's message-move task: receive
// from the dead-letter queue, send to the work queue, and delete only what was sent, so a message is never
// lost (at worst, on a crash between send and delete, it is in both queues and the worker's idempotency runs
// its tasks once). One redrive moves everything it can: a send that fails for a reason that may pass (it
// throws after the SDK's own retries, or SQS answers an entry Failed not by the sender's fault) is tried again,
// a few rounds with backoff (lib/aws/enqueue.ts sendMessageBatch, the orchestrator's own); one that SQS refuses
// for its content is not (no try can succeed). A message that still could not be sent is made visible in the
// dead-letter queue again at once, not after its 60 s visibility timeout, is not tried again in this redrive,
// and is reported by count and reason.
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type SendBatchOptions, sendMessageBatch } from '../../lib/aws/enqueue.js';
import { errorText } from '../../lib/fanout/segment.js';
import { queueDepth } from '../queue-depth.js';
import { sendBatches } from './redrive-send-batches.js';

/** Dead letters a redrive could not move, by the reason of their last failed send. */
export interface NotMoved {
  readonly reason: string;
  readonly count: number;
}

export interface ResendResult {
  readonly moved: number;
  /** Left in the dead-letter queue, visible, for the next redrive. */
  readonly notMoved: number;
  readonly failures: readonly NotMoved[];
  /** Stopped by `signal` (Ctrl-C) before the drain's end: the rest stay in the dead-letter queue, visible. */
  readonly interrupted: boolean;
  /**
   * Moved (in `moved`: sent to the work queue) but still in the dead-letter queue, their delete refused or
   * failed (`deleteFailure`, the last error): a later redrive sends them again, and the ledger counts each task
   * once (a redriven task's move is settled once: functions/worker-hand-on.ts).
   */
  readonly notDeleted: number;
  readonly deleteFailure?: string;
}

export interface ResendOptions {
  /** Empty receives in a row after which the dead-letter queue counts as drained. */
  readonly emptyReceives: number;
  /** The rounds and backoff of a send (sendMessageBatch's defaults: 5 rounds, 100 ms doubling to 2 s). */
  readonly send?: SendBatchOptions;
  /**
   * Ctrl-C: no receive starts after it; the batch in hand is sent and deleted (or released) first, so no
   * message is left invisible or in both queues by the stop.
   */
  readonly signal?: AbortSignal;
}

/**
 * The drain, bounded as SQS's own message-move task is (ApproximateNumberOfMessagesToMove, taken when the task
 * starts): it moves at most the dead-letter queue's depth at its start, and never a message sent to the
 * dead-letter queue after its start (SentTimestamp), such as the new dead letter of a task it moved that
 * failed again at once. Those it holds invisible while it drains, so that the queue still comes back empty,
 * and makes visible again at the end, for the next redrive. A message it could not send counts against the
 * same budget, so the drain ends.
 */
export async function resend(
  sqs: SQSClient,
  queueUrl: string,
  deadLetterQueueUrl: string,
  options: ResendOptions,
): Promise<ResendResult> {
  const drain: Drain = {
    startedAt: Date.now(),
    budget: (await queueDepth(sqs, deadLetterQueueUrl)).total,
    moved: 0,
    movedIds: new Set(),
    failedIds: new Set(),
    reasons: new Map(),
    held: new Map(),
    undeleted: new Set(),
  };
  try {
    let empty = 0;
    while (
      !options.signal?.aborted &&
      empty < options.emptyReceives &&
      drain.moved + drain.failedIds.size < drain.budget
    ) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 60,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['SentTimestamp'],
        }),
      );
      empty = Messages.length === 0 ? empty + 1 : 0;
      if (Messages.length) await moveBatch(sqs, { queueUrl, deadLetterQueueUrl, options }, drain, Messages);
    }
  } finally {
    await release(sqs, deadLetterQueueUrl, [...drain.held.values()]);
  }
  const failures = [...drain.reasons].map(([reason, count]) => ({ reason, count }));
  const interrupted = options.signal?.aborted === true;
  const { moved, undeleted, deleteFailure } = drain;
  return {
    moved,
    notMoved: drain.failedIds.size,
    failures,
    interrupted,
    notDeleted: undeleted.size,
    ...(undeleted.size > 0 && deleteFailure ? { deleteFailure } : {}),
  };
}

interface Drain {
  /** When the redrive started, on this machine's clock. */
  readonly startedAt: number;
  /** The dead-letter queue's depth at the start: the most this redrive moves. */
  readonly budget: number;
  moved: number;
  /** The dead-letter queue's ids of the messages moved (sent, then deleted). */
  readonly movedIds: Set<string>;
  /** The dead-letter queue's ids of the messages whose send failed for good in this redrive. */
  readonly failedIds: Set<string>;
  /** How many of those failed for each reason (the last try's error). */
  readonly reasons: Map<string, number>;
  /** Messages received but not to move now, by id: their latest receipt handle, to make visible at the end. */
  readonly held: Map<string, string>;
  /** Moved, but their delete from the dead-letter queue failed, by id; the last error. */
  readonly undeleted: Set<string>;
  deleteFailure?: string;
}

interface Queues {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly options: ResendOptions;
}

/** Moves what the drain may of one receive: sends to the work queue, then deletes what was sent. */
async function moveBatch(
  sqs: SQSClient,
  at: Queues,
  drain: Drain,
  messages: readonly Message[],
): Promise<void> {
  const toMove: Message[] = [];
  const stale: Message[] = [];
  for (const m of messages) {
    const id = m.MessageId ?? '';
    // A second delivery of a message already moved: sent once already, so only its delete is left.
    if (drain.movedIds.has(id)) stale.push(m);
    else if (
      drain.failedIds.has(id) ||
      sentAfter(m, drain.startedAt) ||
      drain.moved + drain.failedIds.size + toMove.length >= drain.budget
    ) {
      drain.held.set(id, m.ReceiptHandle ?? '');
    } else {
      drain.held.delete(id);
      toMove.push(m);
    }
  }
  const { sent, failed } = toMove.length ? await sendAll(sqs, at, toMove) : { sent: [], failed: [] };
  // Sent is moved, whatever the delete does: counted before it, so a delete that throws loses no count.
  for (const m of sent) drain.movedIds.add(m.MessageId ?? '');
  drain.moved += sent.length;
  await deleteAll(sqs, at.deadLetterQueueUrl, [...stale, ...sent], drain);
  for (const { message, reason } of failed) {
    drain.failedIds.add(message.MessageId ?? '');
    drain.reasons.set(reason, (drain.reasons.get(reason) ?? 0) + 1);
  }
  // Visible again now, for the next redrive, rather than when the receive's 60 s end.
  await release(
    sqs,
    at.deadLetterQueueUrl,
    failed.map((f) => f.message.ReceiptHandle ?? ''),
  );
}

/** Sent to the dead-letter queue after the redrive started (an endpoint that gives no SentTimestamp: no). */
function sentAfter(message: Message, startedAt: number): boolean {
  const sent = Number(message.Attributes?.SentTimestamp);
  return Number.isFinite(sent) && sent > startedAt;
}

interface Sent {
  readonly sent: Message[];
  readonly failed: { message: Message; reason: string }[];
}

/**
 * Sends the messages to the work queue, in batches SQS takes whole (./redrive-send-batches.ts), each failed
 * entry tried again as sendMessageBatch does: those it accepted, and those it did not, each with the last
 * try's error.
 */
async function sendAll(sqs: SQSClient, at: Queues, messages: readonly Message[]): Promise<Sent> {
  const out: Sent = { sent: [], failed: [] };
  for (const batch of sendBatches(messages)) {
    const { sent, failed } = await sendBatch(sqs, at, batch);
    out.sent.push(...sent);
    out.failed.push(...failed);
  }
  return out;
}

async function sendBatch(sqs: SQSClient, at: Queues, messages: readonly Message[]): Promise<Sent> {
  const entries = messages.map((m, i) => ({
    Id: String(i),
    MessageBody: m.Body ?? '',
    ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length
      ? { MessageAttributes: m.MessageAttributes }
      : {}),
  }));
  const failures = await sendMessageBatch(sqs, at.queueUrl, entries, at.options.send);
  const reasons = new Map(failures.map((f) => [Number(f.id), f.error]));
  const sent = messages.filter((_, i) => !reasons.has(i));
  const failed = messages.flatMap((message, i) => {
    const reason = reasons.get(i);
    return reason === undefined ? [] : [{ message, reason }];
  });
  return { sent, failed };
}

/**
 * Deletes moved messages from the dead-letter queue (a receive's: at most 10). A delete that fails, whole or
 * per entry, ends nothing: the message stays there (it comes back after its visibility timeout, and this drain
 * deletes it if it receives it again), noted in `drain.undeleted`.
 */
async function deleteAll(
  sqs: SQSClient,
  deadLetterQueueUrl: string,
  messages: readonly Message[],
  drain: Drain,
) {
  if (!messages.length) return;
  let failed: { index: number; reason: string }[];
  try {
    const { Failed = [] } = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: deadLetterQueueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
    failed = Failed.map((f) => ({ index: Number(f.Id), reason: `${f.Code}: ${f.Message ?? ''}`.trim() }));
  } catch (error) {
    const reason = errorText(error);
    failed = messages.map((_, index) => ({ index, reason }));
  }
  const refused = new Set(failed.map((f) => f.index));
  messages.forEach((m, i) => {
    if (refused.has(i)) drain.undeleted.add(m.MessageId ?? '');
    else drain.undeleted.delete(m.MessageId ?? '');
  });
  if (failed.length > 0) drain.deleteFailure = failed[failed.length - 1].reason;
}

/**
 * Makes the messages visible again. Best effort: one it fails to release comes back by itself when its
 * visibility timeout ends.
 */
async function release(sqs: SQSClient, deadLetterQueueUrl: string, receiptHandles: readonly string[]) {
  for (let i = 0; i < receiptHandles.length; i += 10) {
    await sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: deadLetterQueueUrl,
          Entries: receiptHandles
            .slice(i, i + 10)
            .map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      )
      .catch(() => undefined);
  }
}
