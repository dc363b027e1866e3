import type { Logger } from '@aws-lambda-powertools/logger';
import { sendRetry } from '../lib/aws/hand-on.js';
import type { TaskMessage } from '../lib/fanout/messages.js';
import { handOnKey } from '../lib/fanout/settle.js';
import type { TaskOutcome } from '../lib/fanout/task-outcome.js';
import { type RunRecord, RunStatuses } from '../lib/ledger/run-record.js';
import { acceptsTasks } from '../lib/ledger/run-rules.js';
import type { JobTask } from '../lib/manifest/schema.js';
import type { RunLedger } from './run-ledger.js';
import type { FunctionRuntime } from './runtime.js';

// What the worker does with a message or a task its run no longer lets start: a paused run's goes back
// to the queue, a cancelled or failed run's ends `cancelled`.

/**
 * A paused run's message goes back whole as a new message, delayed pauseRecheckSeconds (its tasks
 * unstarted, no attempt spent): a new message starts with no receives, so however long the pause, SQS never
 * moves it to the dead-letter queue for it. A resumed run carries on within that delay plus RunControl's 2 s.
 */
export async function holdPaused(rt: FunctionRuntime, message: TaskMessage): Promise<void> {
  const { queueUrl } = rt.wiring;
  if (!queueUrl) throw new Error('BOUNDED_FANOUT_QUEUE_URL is not set: a paused run cannot be held');
  const held = { ...message, key: handOnKey(message.key) };
  const sent = await sendRetry(rt.aws.sqs, queueUrl, held, rt.config.pauseRecheckSeconds);
  if (sent.failures.length > 0 || sent.deadLetters.length > 0) {
    throw new Error(`paused run's message not put back: ${sent.failures.join('; ') || 'refused by SQS'}`);
  }
}

/** A cancelled or failed run's message: its tasks end `cancelled` (settled in the ledger); returns how many. */
export async function cancelMessage(
  ledger: Pick<RunLedger, 'settle'> | undefined,
  logger: Logger,
  message: TaskMessage,
  record: RunRecord,
): Promise<number> {
  const cancelled = message.tasks.length;
  await ledger?.settle({
    jobId: message.jobId,
    runId: message.runId,
    key: message.key,
    // Redriven tasks were counted dead-lettered: cancelled now, they leave that count.
    delta: message.redrive ? { cancelled, deadLettered: -cancelled } : { cancelled },
  });
  logger.info('run not live: tasks cancelled', { key: message.key, status: record.status, cancelled });
  return cancelled;
}

/**
 * The outcome of a task its run no longer lets start (the cached record, re-read once it is 2 s old and
 * refreshed by each settle): a paused run's task is handed on unstarted; a cancelled or failed run's ends
 * `cancelled`. Undefined when it may start.
 */
export async function stoppedOutcome(
  ledger: RunLedger | undefined,
  message: TaskMessage,
  task: JobTask,
): Promise<TaskOutcome | undefined> {
  // view(), not peek(): once the cached copy is 2 s old no task starts before the shared re-read.
  const record = await ledger?.control.view(message.jobId, message.runId);
  if (!record || acceptsTasks(record.status)) return undefined;
  if (message.redrive && record.status !== RunStatuses.PAUSED) return undefined;
  const notStarted = { id: task.id, ok: false, attempts: 0, error: `run ${record.status}` };
  return record.status === RunStatuses.PAUSED
    ? { ...notStarted, retryable: true, unstarted: true }
    : { ...notStarted, cancelled: true };
}
