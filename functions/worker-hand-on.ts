import type { Logger } from '@aws-lambda-powertools/logger';
import { sendDeadLetters, sendRetry } from '../lib/aws/hand-on.js';
import type { DeadLetterTask, TaskMessage } from '../lib/fanout/messages.js';
import type { FollowUps, Settlement } from '../lib/fanout/settle.js';
import type { CountDelta } from '../lib/ledger/run-record.js';
import type { FunctionRuntime } from './runtime.js';

// How the worker hands a settled message's failed tasks on, and what that adds to its run's counts.

export interface HandedOn {
  readonly retried: number;
  readonly handedOn: number;
  readonly deadLettered: number;
  readonly undeliverable: number;
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
  return { retried, handedOn, deadLettered: deadLetters.length - undeliverable, undeliverable, lines };
}

/** Dead-letters `records`; a record SQS refuses even alone is undeliverable, logged by task id. */
async function deadLetter(
  rt: FunctionRuntime,
  logger: Logger,
  message: TaskMessage,
  records: readonly DeadLetterTask[],
): Promise<{ undeliverable: number; lines: object[]; failures: readonly string[] }> {
  if (records.length === 0) return { undeliverable: 0, lines: [], failures: [] };
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
  return { undeliverable: sent.undeliverable.length, lines, failures: sent.failures };
}

/**
 * What a message's settle adds to its run's counts: its succeeded and cancelled tasks. A duplicate succeeded
 * in an earlier delivery that was never settled: it counts now. A redriven message's tasks were counted
 * dead-lettered already: those that end now another way leave `deadLettered`, so the sum stays `submitted`.
 * Its failed tasks count when handed on (handedDelta), once their dead letters and result lines are out.
 */
export function settledDelta(message: TaskMessage, settlement: Settlement): CountDelta {
  const succeeded = settlement.succeeded + settlement.duplicates;
  const { cancelled } = settlement;
  return message.redrive
    ? { succeeded, cancelled, deadLettered: -(succeeded + cancelled) }
    : { succeeded, cancelled };
}

/**
 * What handing a settled message's failed tasks on adds: the dead-lettered (a retry SQS refused is one)
 * and the undeliverable. A redriven task dead-lettered again stays counted; one undeliverable now moves.
 * Undefined when it adds nothing.
 */
export function handedDelta(
  message: TaskMessage,
  handed: { readonly deadLettered: number; readonly undeliverable: number },
): CountDelta | undefined {
  const { deadLettered, undeliverable } = handed;
  if (message.redrive) return undeliverable > 0 ? { deadLettered: -undeliverable, undeliverable } : undefined;
  return deadLettered + undeliverable > 0 ? { deadLettered, undeliverable } : undefined;
}
