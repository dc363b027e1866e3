import type { JobTask } from '../manifest/schema.js';
import { SQS_MAX_DELAY_SECONDS, SQS_MAX_MESSAGE_BYTES, TASK_ENVELOPE_BYTES } from '../wire/sqs-limits.js';
import { wireJson } from '../wire/wire-json.js';
import { Batcher } from './batcher.js';
import { type DeadEntry, type FollowUpPlan, PLAN_VERSION } from './follow-up-plan.js';
import { type DeadLetterTask, deadLetterTask, type TaskMessage } from './messages.js';
import type { TaskOutcome } from './task-outcome.js';

/*
How a packed message keeps the accounting exact: the worker runs the tasks of the message, then settles
the message as a whole, each task by its outcome:
- succeeded: it ends there;
- failed and retryable (runHttpTask's rules: a network error, a timeout, 408, 425, 429, 5xx, for a method
  that may be repeated) while attempts remain: in a new message (attempt + 1, key `<key>#<attempt>`, the
  suffix replacing a retry's own, a growing delay, and at least the longest wait a retried task's last
  response asked for with Retry-After); one asking for more than SQS's 900 s delay is dead-lettered instead,
  as runHttpTask ends its own retries past maxRetryAfterMs: re-sent at 900 s it would hit the partner before
  the time it named, and waiting longer would need a message to come back unrun, its receives counting;
- failed for good (any other failure), or retryable with its `maxAttempts` deliveries spent: to the
  dead-letter queue with its last error and the deliveries it had;
- not started (the invocation's deadline was too near, or its run is paused): in a new message with the
  same attempt, key `<key>~<n>`, so running out of time or a pause spends no attempt;
- not started because its run was cancelled or failed: it ends there, counted `cancelled`.
The original message is then reported as processed, so SQS deletes it and never redelivers the succeeded
neighbours. Each task thus ends exactly once: succeeded, or dead-lettered. The new messages' keys derive
from the original's alone, so settling the same delivery twice sends the same keys, and the message-level
idempotency record of the first one sent makes the other a duplicate. Which tasks go where is the
settlement's `plan` (lib/fanout/follow-up-plan.ts): of two deliveries ending a task differently, the
follow-ups sent are those of the plan the first settle kept, rebuilt with followUpsOf.
*/

export interface FollowUp {
  readonly message: TaskMessage;
  readonly delaySeconds: number;
}

/** What a settled message sends on. */
export interface FollowUps {
  /** Messages carrying only the retryable failed tasks, for another attempt. */
  readonly retries: readonly FollowUp[];
  /** Messages carrying the tasks not started, with the same attempt. */
  readonly handedOn: readonly FollowUp[];
  /** Tasks failed for good or out of attempts, with their last error. */
  readonly deadLetters: readonly DeadLetterTask[];
}

export interface Settlement extends FollowUps {
  readonly succeeded: number;
  readonly duplicates: number;
  /** Tasks not started because their run was cancelled or failed. */
  readonly cancelled: number;
  /** Their positions in the message (a redrive moves each out of `deadLettered` by its id: worker-hand-on.ts). */
  readonly cancelledAt: readonly number[];
  /** The follow-ups by task position, to keep on the message's ledger marker. */
  readonly plan: FollowUpPlan;
}

/** Delay before attempt `attempt + 1`: `base`, doubling per attempt, at most SQS's 900 s. */
export function retryDelaySeconds(base: number, attempt: number): number {
  return Math.min(SQS_MAX_DELAY_SECONDS, base * 2 ** (attempt - 1));
}

/** The key of the message that hands on a message's unstarted tasks: `<key>~1`, then `~2`, ... */
export function handOnKey(key: string): string {
  const n = /~(\d+)$/.exec(key);
  return n ? `${key.slice(0, n.index)}~${Number(n[1]) + 1}` : `${key}~1`;
}

/**
 * Settles one message from its tasks' outcomes (in the order of `message.tasks`). A failed outcome is
 * retried unless it says `retryable: false`; a missing one counts as a retryable failure.
 */
export function settleMessage(
  message: TaskMessage,
  outcomes: readonly TaskOutcome[],
  maxAttempts: number,
): Settlement {
  let succeeded = 0;
  let duplicates = 0;
  const cancelledAt: number[] = [];
  const [retry, handOn]: number[][] = [[], []];
  const dead: DeadEntry[] = [];
  let retryAfterSeconds = 0;
  const deadAt = (i: number, outcome: TaskOutcome, why = '') => {
    const last = `${outcome.error ?? `status ${outcome.status}`}${why}`;
    const { attempts, error, status } = deadLetterTask(
      message.tasks[i],
      message.attempt,
      last,
      outcome.status,
    );
    dead.push(status === undefined ? { i, attempts, error } : { i, attempts, error, status });
  };
  message.tasks.forEach((task, i) => {
    const outcome = outcomes[i] ?? { id: task.id, ok: false, attempts: 0, error: 'no outcome' };
    if (outcome.ok && outcome.duplicate) duplicates++;
    else if (outcome.ok) succeeded++;
    else if (outcome.cancelled) cancelledAt.push(i);
    else if (outcome.unstarted) handOn.push(i);
    else if (outcome.retryable === false || message.attempt >= maxAttempts) deadAt(i, outcome);
    else {
      const asked = Math.ceil((outcome.retryAfterMs ?? 0) / 1000);
      if (asked > SQS_MAX_DELAY_SECONDS) deadAt(i, outcome, ` (not retried: ${tooLong(asked)})`);
      else {
        retry.push(i);
        retryAfterSeconds = Math.max(retryAfterSeconds, asked);
      }
    }
  });
  const plan: FollowUpPlan = {
    v: PLAN_VERSION,
    retry,
    handOn,
    dead,
    ...(retryAfterSeconds > 0 ? { retryAfterSeconds } : {}),
  };
  const cancelled = cancelledAt.length;
  return { succeeded, duplicates, cancelled, cancelledAt, plan, ...followUpsOf(message, plan) };
}

const tooLong = (seconds: number) =>
  `its Retry-After of ${seconds} s is beyond SQS's longest delay (${SQS_MAX_DELAY_SECONDS} s)`;

/** The messages and dead letters `plan` sends for `message`: the same keys and tasks whoever sends them. */
export function followUpsOf(message: TaskMessage, plan: FollowUpPlan): FollowUps {
  const { attempt, key } = message;
  // The job's backoff, or longer if a retried task's partner asked for longer (Retry-After).
  const backoff = retryDelaySeconds(message.retryDelaySeconds ?? 0, attempt);
  const delaySeconds = Math.max(backoff, plan.retryAfterSeconds ?? 0);
  const at = (positions: readonly number[]) => positions.map((i) => message.tasks[i]);
  return {
    // `<key>#<attempt>`, the attempt replacing the one a retry's key already ends with: a key that grew by one
    // suffix per attempt passed DynamoDB's 1,024 bytes for its marker after some 200 attempts, and the task
    // never ended. Still one key per (message, attempt): only the retry of `<key>#n` is `<key>#n+1`.
    retries: followUps(message, at(plan.retry), {
      attempt: attempt + 1,
      key: `${key.replace(/#\d+$/, '')}#${attempt + 1}`,
      delaySeconds,
    }),
    handedOn: followUps(message, at(plan.handOn), {
      attempt,
      key: handOnKey(key),
      delaySeconds: plan.holdSeconds ?? 0,
    }),
    deadLetters: plan.dead.map((d) => deadLetterTask(message.tasks[d.i], d.attempts, d.error, d.status)),
  };
}

function followUps(
  message: TaskMessage,
  tasks: readonly JobTask[],
  { attempt, key, delaySeconds }: { attempt: number; key: string; delaySeconds: number },
): FollowUp[] {
  if (tasks.length === 0) return [];
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
  // Keys derive from the original's, so settling the same delivery twice sends the same keys. No `copy`: a
  // message is settled only once its segment copy was judged the winner (functions/segment-copies.ts), for
  // good, as a marker is written once; a follow-up keeping it would read the marker again at each delivery
  // (each hold of a paused run), and once the marker's TTL deleted it, go round unsettled and never run.
  const { copy: _, ...envelope } = message;
  return groups.map((group, i) => ({
    message: {
      ...envelope,
      key: `${key}${groups.length > 1 ? `.${i}` : ''}`,
      attempt,
      tasks: group,
    },
    delaySeconds,
  }));
}
