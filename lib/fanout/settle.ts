import type { JobTask } from '../manifest/schema.js';
import { Batcher } from './batcher.js';
import { type DeadLetterTask, deadLetterTask, type TaskMessage } from './messages.js';
import type { TaskResult } from './segment.js';
import { SQS_MAX_DELAY_SECONDS, SQS_MAX_MESSAGE_BYTES, TASK_ENVELOPE_BYTES } from './sqs-limits.js';
import { wireJson } from './wire-json.js';

/*
How a packed message keeps the accounting exact: the worker runs every task of the message, then settles
the message as a whole. Succeeded tasks end there. Failed tasks alone go on: in a new message (attempt + 1,
a deterministic key, a growing delay) while attempts remain, to the dead-letter queue with their last
error once `maxAttempts` deliveries failed. The original message is then reported as processed, so SQS
deletes it and never redelivers the succeeded neighbours. Each task thus ends exactly once: succeeded, or
dead-lettered after its last attempt.
*/

export interface TaskOutcome extends TaskResult {
  /** The task had already completed in an earlier delivery: its stored result was returned, it did not run. */
  readonly duplicate?: boolean;
}

export interface Settlement {
  readonly succeeded: number;
  readonly duplicates: number;
  /** Messages carrying only the failed tasks, for another attempt. */
  readonly retries: readonly { readonly message: TaskMessage; readonly delaySeconds: number }[];
  /** Tasks out of attempts, with their last error. */
  readonly deadLetters: readonly DeadLetterTask[];
}

/** Delay before attempt `attempt + 1`: `base`, doubling per attempt, at most SQS's 900 s. */
export function retryDelaySeconds(base: number, attempt: number): number {
  return Math.min(SQS_MAX_DELAY_SECONDS, base * 2 ** (attempt - 1));
}

/** Settles one message from its tasks' outcomes (in the order of `message.tasks`). */
export function settleMessage(
  message: TaskMessage,
  outcomes: readonly TaskOutcome[],
  maxAttempts: number,
): Settlement {
  let succeeded = 0;
  let duplicates = 0;
  const failed: { task: JobTask; outcome: TaskOutcome }[] = [];
  message.tasks.forEach((task, i) => {
    const outcome = outcomes[i] ?? { id: task.id, ok: false, attempts: 0, error: 'no outcome' };
    if (!outcome.ok) failed.push({ task, outcome });
    else if (outcome.duplicate) duplicates++;
    else succeeded++;
  });
  if (failed.length === 0) return { succeeded, duplicates, retries: [], deadLetters: [] };
  if (message.attempt >= maxAttempts) {
    const deadLetters = failed.map(({ task, outcome }) =>
      deadLetterTask(task, message.attempt, outcome.error ?? `status ${outcome.status}`, outcome.status),
    );
    return { succeeded, duplicates, retries: [], deadLetters };
  }
  return {
    succeeded,
    duplicates,
    retries: retryMessages(
      message,
      failed.map((f) => f.task),
    ),
    deadLetters: [],
  };
}

function retryMessages(message: TaskMessage, tasks: readonly JobTask[]) {
  const attempt = message.attempt + 1;
  const delaySeconds = retryDelaySeconds(message.retryDelaySeconds ?? 0, message.attempt);
  // Usually one message; more only if a task grew past the original's room (it cannot, but stay exact).
  const packer = new Batcher<JobTask>({
    maxItems: message.tasks.length,
    maxBytes: SQS_MAX_MESSAGE_BYTES,
    overheadBytes: TASK_ENVELOPE_BYTES,
    separatorBytes: 1,
  });
  const groups: JobTask[][] = [];
  for (const task of tasks) {
    const group = packer.add(task, Buffer.byteLength(wireJson(task)));
    if (group) groups.push(group.items);
  }
  const last = packer.flush();
  if (last) groups.push(last.items);
  // Keys derive from the original's, so settling the same delivery twice sends the same keys.
  return groups.map((group, i) => ({
    message: {
      ...message,
      key: `${message.key}#${attempt}${groups.length > 1 ? `.${i}` : ''}`,
      attempt,
      tasks: group,
    },
    delaySeconds,
  }));
}
