import { sendRetry } from '../lib/aws/hand-on.js';
import { emptyPlan } from '../lib/fanout/follow-up-plan.js';
import type { TaskMessage } from '../lib/fanout/messages.js';
import { handOnKey, type Settlement } from '../lib/fanout/settle.js';
import type { TaskOutcome } from '../lib/fanout/task-outcome.js';
import { RunStatuses } from '../lib/ledger/run-record.js';
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

/**
 * A cancelled or failed run's message: its tasks end `cancelled`, nothing follows (settled like any other
 * message, so a delivery that finds it settled before still sends that settle's follow-ups).
 */
export function cancelledSettlement(message: TaskMessage): Settlement {
  const cancelled = message.tasks.length;
  return {
    succeeded: 0,
    duplicates: 0,
    cancelled,
    cancelledAt: message.tasks.map((_, i) => i),
    plan: emptyPlan,
    retries: [],
    handedOn: [],
    deadLetters: [],
  };
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
