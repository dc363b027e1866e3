// The worker's clock for one invocation. Lambda kills an invocation at its timeout, settled or not: a batch
// killed mid-way settles no message, SQS redelivers all of them, and after maxReceiveCount moves the raw
// messages to the DLQ. So the worker keeps back time to settle, starts no task attempt that would end after
// what is left (the attempt's timeout: runHttpTask checks the same before every retry), and aborts whatever
// still runs when that time is up (a body may take up to its timeout again after the headers). Tasks it
// did not start are handed on with their attempt unspent (lib/fanout/settle.ts).
import type { Context } from 'aws-lambda';
import { taskWindowMs } from '../lib/fanout/settle-reserve.js';
import type { TaskOutcome } from '../lib/fanout/task-outcome.js';
import {
  DEADLINE,
  defaultTaskTimeoutMs,
  invocationOptions,
  type RunHttpTaskOptions,
} from '../lib/http/run-http-task.js';
import type { JobTask } from '../lib/manifest/schema.js';
import { abortAfter } from './abort-after.js';

export { MAX_SETTLE_RESERVE_MS, settleReserveMs } from '../lib/fanout/settle-reserve.js';

export interface InvocationDeadline {
  /** When every task attempt must be over (epoch ms): the invocation's end less the settle reserve. */
  readonly at: number;
  /** The container's runHttpTask options with `deadline` and an abort `signal` at it, for this invocation. */
  readonly taskOptions: RunHttpTaskOptions;
  /**
   * The outcome of a task not started because an attempt started now would end after `at` (handed on), or
   * because one would not fit in a whole invocation (failed for good: handing it on would never end);
   * undefined when it may start.
   */
  tooLate(task: JobTask): TaskOutcome | undefined;
  /** Stops the abort timer (the invocation is settled). */
  close(): void;
}

export function invocationDeadline(
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  base: RunHttpTaskOptions,
  now: () => number = Date.now,
): InvocationDeadline {
  const remaining = context.getRemainingTimeInMillis();
  const start = now();
  const at = start + taskWindowMs(remaining);
  // Every task of the invocation listens on this one signal (perInvocationConcurrency at once, more over a batch).
  const timer = abortAfter(at - start);
  const { signal } = timer;
  const taskOptions = invocationOptions(base, { deadline: at, now, signal });
  const fallbackMs = base.timeoutMs ?? defaultTaskTimeoutMs;
  return {
    at,
    taskOptions,
    tooLate(task) {
      const ms = task.timeoutMs ?? fallbackMs;
      if (now() + ms <= at && !signal.aborted) return undefined;
      const notStarted = { id: task.id, ok: false, attempts: 0 };
      if (ms > at - start) {
        const error = `${DEADLINE}: not started: an attempt of ${ms} ms does not fit in the ${at - start} ms an invocation has for tasks`;
        return { ...notStarted, error, retryable: false };
      }
      const error = `${DEADLINE}: not started: an attempt of ${ms} ms would end after the invocation's deadline`;
      return { ...notStarted, error, retryable: true, unstarted: true };
    },
    close: timer.close,
  };
}
