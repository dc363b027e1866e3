import type { Logger } from '@aws-lambda-powertools/logger';
import { sendDeadLetters, sendRetry } from '../lib/aws/hand-on.js';
import type { DeadLetterTask, TaskMessage } from '../lib/fanout/messages.js';
import type { FollowUps, Settlement } from '../lib/fanout/settle.js';
import type { SettleInput } from '../lib/ledger/job-ledger.js';
import { type MovedAs, movedKey, movedState } from '../lib/ledger/ledger-keys.js';
import type { CountDelta } from '../lib/ledger/run-record.js';
import type { FunctionRuntime } from './runtime.js';

// How the worker hands a settled message's failed tasks on, and what that adds to its run's counts.

export interface HandedOn {
  readonly retried: number;
  readonly handedOn: number;
  readonly deadLettered: number;
  readonly undeliverable: number;
  /** The ids of the undeliverable tasks. */
  readonly undeliverableIds: readonly string[];
  /** The dead-lettered and undeliverable tasks, as lines of the run's result object. */
  readonly lines: readonly object[];
}

/**
 * Sends the failed tasks on: a retry message, or the DLQ (lib/aws/hand-on.ts: a message SQS refuses is
 * split until the task at fault stands alone). Throws when any could not be sent for another reason.
 */
export async function handOn(
  rt: FunctionRuntime,
  logger: Logger,
  message: TaskMessage,
  settlement: FollowUps,
): Promise<HandedOn> {
  const { queueUrl } = rt.wiring;
  const failures: string[] = [];
  const deadLetters = [...settlement.deadLetters];
  let retried = 0;
  let handedOn = 0;
  const followUps = [
    ...settlement.retries.map((r) => ({ ...r, handOn: false })),
    ...settlement.handedOn.map((r) => ({ ...r, handOn: true })),
  ];
  for (const { message: retry, delaySeconds, handOn } of followUps) {
    if (!queueUrl) throw new Error('BOUNDED_FANOUT_QUEUE_URL is not set: failed tasks cannot be retried');
    const sent = await sendRetry(rt.aws.sqs, queueUrl, retry, delaySeconds);
    if (handOn) handedOn += sent.retried;
    else retried += sent.retried;
    deadLetters.push(...sent.deadLetters);
    failures.push(...sent.failures);
  }
  const dead = await deadLetter(rt, logger, message, deadLetters);
  failures.push(...dead.failures);
  if (failures.length > 0) throw new Error(`failed tasks not handed on: ${failures.join('; ')}`);
  const { undeliverable, lines } = dead;
  const undeliverableIds = dead.undeliverableIds;
  const deadLettered = deadLetters.length - undeliverable;
  return { retried, handedOn, deadLettered, undeliverable, undeliverableIds, lines };
}

/** Dead-letters `records`; a record SQS refuses even alone is undeliverable, logged by task id. */
async function deadLetter(
  rt: FunctionRuntime,
  logger: Logger,
  message: TaskMessage,
  records: readonly DeadLetterTask[],
): Promise<{
  undeliverable: number;
  undeliverableIds: string[];
  lines: object[];
  failures: readonly string[];
}> {
  if (records.length === 0) return { undeliverable: 0, undeliverableIds: [], lines: [], failures: [] };
  const { dlqUrl } = rt.wiring;
  if (!dlqUrl) throw new Error('BOUNDED_FANOUT_DLQ_URL is not set: failed tasks cannot be dead-lettered');
  const sent = await sendDeadLetters(rt.aws.sqs, dlqUrl, message, records);
  const lines: object[] = [];
  const refused = new Set(sent.undeliverable.map((u) => u.record));
  for (const record of records) if (!refused.has(record)) lines.push({ type: 'dead-letter', ...record });
  for (const { record, error } of sent.undeliverable) {
    lines.push({ type: 'undeliverable', ...record, sendError: error });
    logger.error('failed task undeliverable: SQS refused its dead letter even alone', {
      jobId: message.jobId,
      key: message.key,
      id: record.task.id,
      error: record.error,
      sendError: error,
    });
  }
  const undeliverableIds = sent.undeliverable.map((u) => u.record.task.id);
  return { undeliverable: undeliverableIds.length, undeliverableIds, lines, failures: sent.failures };
}

/**
 * What a message's settle adds to its run's counts: its succeeded and cancelled tasks. A duplicate succeeded
 * in an earlier delivery that was never settled: it counts now. Its failed tasks count when handed on
 * (handedDelta), once their dead letters and result lines are out. A redriven message adds nothing under its
 * own key: its tasks were counted dead-lettered already, and each that now ends another way moves out of
 * `deadLettered` under a key of its own (movedSettles), so two copies of one dead letter move it once.
 */
export function settledDelta(message: TaskMessage, settlement: Settlement): CountDelta {
  if (message.redrive) return {};
  return { succeeded: settlement.succeeded + settlement.duplicates, cancelled: settlement.cancelled };
}

/**
 * What handing a settled message's failed tasks on adds: the dead-lettered (a retry SQS refused is one)
 * and the undeliverable. A redriven task dead-lettered again stays counted, and one undeliverable now moves
 * by its own key (movedSettles): undefined for a redrive, and when it adds nothing.
 */
export function handedDelta(
  message: TaskMessage,
  handed: { readonly deadLettered: number; readonly undeliverable: number },
): CountDelta | undefined {
  const { deadLettered, undeliverable } = handed;
  if (message.redrive) return undefined;
  return deadLettered + undeliverable > 0 ? { deadLettered, undeliverable } : undefined;
}

/**
 * The settles that move a redriven message's tasks that ended now (succeeded, duplicates too, or cancelled)
 * out of `deadLettered`, one per task and keyed by its id alone. A dead letter may reach the queue as several
 * copies (its send is at least once, and a redrive may be run twice), each a message of its own key: whichever
 * copy settles a task first moves it, and the others find its key settled. A task ends a run once, so its key
 * never needs to move it twice. Empty for a message that is not a redrive.
 */
export function movedSettles(message: TaskMessage, settlement: Settlement): SettleInput[] {
  if (!message.redrive) return [];
  const { succeeded, cancelled } = endedTasks(message, settlement);
  return [...moves(message, succeeded, 'succeeded'), ...moves(message, cancelled, 'cancelled')];
}

/** The settles that move a redriven message's undeliverable tasks out of `deadLettered` (as movedSettles). */
export function movedUndeliverable(message: TaskMessage, ids: readonly string[]): SettleInput[] {
  return message.redrive ? moves(message, ids, 'undeliverable') : [];
}

function moves(message: TaskMessage, ids: readonly string[], as: MovedAs): SettleInput[] {
  const { jobId, runId } = message;
  // The marker says where the task went: the report lists an undeliverable one still (local/report).
  const state = movedState(as);
  return ids.map((id) => ({ jobId, runId, key: movedKey(id), delta: { [as]: 1, deadLettered: -1 }, state }));
}

/** The redriven tasks of `settlement` that end now: succeeded (duplicates too) and cancelled, by id. */
function endedTasks(
  message: TaskMessage,
  settlement: Settlement,
): { readonly succeeded: string[]; readonly cancelled: string[] } {
  const { retry, handOn, dead } = settlement.plan;
  const cancelledAt = new Set(settlement.cancelledAt);
  const failed = new Set([...retry, ...handOn, ...dead.map((d) => d.i)]);
  const succeeded: string[] = [];
  const cancelled: string[] = [];
  message.tasks.forEach((task, i) => {
    if (cancelledAt.has(i)) cancelled.push(task.id);
    else if (!failed.has(i)) succeeded.push(task.id);
  });
  return { succeeded, cancelled };
}
