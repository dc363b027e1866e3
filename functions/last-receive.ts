// A queue message on its last receive. SQS moves a message to the dead-letter queue after maxReceiveCount
// receives that did not delete it, and no code runs then: its tasks would never be counted and its run would
// stay `running` for good. Every earlier delivery died before its settle (a crash, a timeout, a throttle;
// a delivery that settles deletes its message, and a paused run's message goes back as a new one), so on the
// last receive the worker does not run the tasks a further time: it dead-letters them, counted, with an error
// that says why, from where `bounded-fanout redrive` can run them again once the cause is fixed. In 'task' mode
// the tasks an earlier delivery completed are not among them: their records count them succeeded.
// The last receive is run even beside a delivery holding the message's idempotency record (functions/worker.ts,
// idempotency.ts runOnce): a copy SQS delivered twice may be it, and failing it would let SQS move the message.
import { ErrorCodes } from '../lib/error-codes.js';
import type { TaskMessage } from '../lib/fanout/messages.js';
import { type Settlement, settleMessage } from '../lib/fanout/settle.js';
import type { TaskOutcome } from '../lib/fanout/task-outcome.js';

/** The receive count SQS gave a record (1 when it gave none: a direct Invoke, an emulator without it). */
export function receiveCountOf(
  attributes: { readonly ApproximateReceiveCount?: string } | undefined,
): number {
  const count = Number(attributes?.ApproximateReceiveCount);
  return Number.isInteger(count) && count > 0 ? count : 1;
}

/** Whether `receives` is a message's last receive: at or above `maxReceiveCount`, and not its first. */
export function isLastReceive(receives: number, maxReceiveCount: number): boolean {
  return receives >= Math.max(2, maxReceiveCount);
}

/**
 * The settlement of a message on its last receive (`receives` at or above `maxReceiveCount`, and not its
 * first): every task dead-lettered unrun, but those `completed` knows (task mode's records of the tasks an
 * earlier delivery finished: their stored results, counted succeeded). Undefined on any earlier receive: the
 * tasks run as usual. With maxReceiveCount 1 the first receive is the last and no earlier delivery has died,
 * so the tasks run: a message whose one delivery dies is then moved by SQS uncounted (docs/ledger.md).
 */
export function lastReceiveSettlement(
  message: TaskMessage,
  receives: number,
  maxReceiveCount: number,
  completed: ReadonlyMap<string, TaskOutcome> = new Map(),
): Settlement | undefined {
  if (!isLastReceive(receives, maxReceiveCount)) return undefined;
  const error = `${ErrorCodes.UNSETTLED_DELIVERIES}: delivered ${receives} times without settling (its worker crashed, timed out or was throttled each time): dead-lettered unrun on the last receive before SQS's own dead-letter move`;
  const outcomes: TaskOutcome[] = message.tasks.map(
    (task) => completed.get(task.id) ?? { id: task.id, ok: false, attempts: 0, retryable: false, error },
  );
  return settleMessage(message, outcomes, maxReceiveCount);
}
