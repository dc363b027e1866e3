import { InvalidArgumentError } from '../errors.js';
import { cutText } from '../wire/cut-text.js';
import { SQS_MAX_DELAY_SECONDS } from '../wire/sqs-limits.js';
import type { TaskMessage } from './messages.js';

/*
What a settled message leaves to do after its settle, by task position in the message: the tasks to retry
(attempt + 1), to hand on unstarted, and to dead-letter. The worker settles a message first, with its plan
kept on the message's ledger marker (SettleInput.state), and only then sends its follow-ups: every delivery
of the message, and the one that comes after a worker died between its settle and its sends, sends the
follow-ups of the delivery whose settle was the first, never its own (functions/worker-follow-ups.ts). Why:
two deliveries of one message may end a task differently (failed, then succeeded); the one counted is the
first settle's, so only its retries may run and count. A message's tasks are the same in every delivery
(its key fixes them), so positions name them, and the follow-ups' keys derive from the message's: a re-send
is the same message again, which the ledger counts once.

Bounded: one plan per message, on the one marker its settle writes anyway. The dead letters' errors are
kept shortened to a budget for the whole plan (PLAN_ERROR_CHARS), so a marker stays far under DynamoDB's
400 KB item and a group of 50 markers under the 4 MB transaction, whatever tasksPerMessage is; the
delivery that settled first sends its own errors whole.
*/

export const PLAN_VERSION = 1 as const;
/** The dead letters' errors a kept plan holds, in characters, all together. */
export const PLAN_ERROR_CHARS = 32_000;

export interface DeadEntry {
  /** Position of the task in the message. */
  readonly i: number;
  readonly attempts: number;
  readonly error: string;
  readonly status?: number;
}

export interface FollowUpPlan {
  readonly v: typeof PLAN_VERSION;
  /** Positions of the tasks to retry, in order. */
  readonly retry: readonly number[];
  /** Positions of the tasks to hand on unstarted, in order. */
  readonly handOn: readonly number[];
  readonly dead: readonly DeadEntry[];
  /**
   * A paused run's hold (functions/run-gate.ts heldSettlement): the handed-on tasks wait this many seconds
   * before they are received again. Absent: at once.
   */
  readonly holdSeconds?: number;
  /**
   * The longest wait a retried task's last response asked for (Retry-After), in whole seconds, at most SQS's
   * 900: the retry message waits at least this long (lib/fanout/settle.ts followUpsOf). Absent: none asked.
   */
  readonly retryAfterSeconds?: number;
}

export const emptyPlan: FollowUpPlan = { v: PLAN_VERSION, retry: [], handOn: [], dead: [] };

export function isEmptyPlan(plan: FollowUpPlan): boolean {
  return plan.retry.length === 0 && plan.handOn.length === 0 && plan.dead.length === 0;
}

/** The plan as a marker keeps it: the dead letters' errors shortened to PLAN_ERROR_CHARS in all. */
export function keptPlan(plan: FollowUpPlan): FollowUpPlan {
  const each = Math.floor(PLAN_ERROR_CHARS / Math.max(1, plan.dead.length));
  const dead = plan.dead.map((d) =>
    d.error.length > each ? { ...d, error: cutText(d.error, each, '…') } : d,
  );
  return { ...plan, dead };
}

/**
 * The plan a marker kept for `message` (JobLedger.settledState); undefined when it kept none (a settle
 * that left nothing to do: a cancelled message's, or one from before plans were kept). A kept value that
 * is not a plan for this message is an error naming the field.
 */
export function parsePlan(state: unknown, message: TaskMessage): FollowUpPlan | undefined {
  if (state === undefined || state === null) return undefined;
  const where = `plan of ${message.key}`;
  const s = state as Record<string, unknown>;
  if (s.v !== PLAN_VERSION) {
    throw new InvalidArgumentError(`${where}.v`, s.v, `plan version ${PLAN_VERSION}`);
  }
  const n = message.tasks.length;
  const position = (field: string, value: unknown): number => {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= n) {
      throw new InvalidArgumentError(`${where}.${field}`, value, `a task position under ${n}`);
    }
    return value as number;
  };
  const list = (field: string): unknown[] => {
    if (!Array.isArray(s[field])) throw new InvalidArgumentError(`${where}.${field}`, s[field], 'an array');
    return s[field] as unknown[];
  };
  const dead = list('dead').map((d, k) => {
    const e = (d ?? {}) as Record<string, unknown>;
    const entry = { i: position(`dead[${k}].i`, e.i), attempts: Number(e.attempts), error: String(e.error) };
    return e.status === undefined ? entry : { ...entry, status: Number(e.status) };
  });
  const plan: FollowUpPlan = {
    v: PLAN_VERSION,
    retry: list('retry').map((i, k) => position(`retry[${k}]`, i)),
    handOn: list('handOn').map((i, k) => position(`handOn[${k}]`, i)),
    dead,
  };
  const delay = (field: 'holdSeconds' | 'retryAfterSeconds') => {
    const value = s[field];
    if (value === undefined) return {};
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > SQS_MAX_DELAY_SECONDS) {
      throw new InvalidArgumentError(`${where}.${field}`, value, 'an SQS delay, 0 to 900 seconds');
    }
    return { [field]: value as number };
  };
  return { ...plan, ...delay('holdSeconds'), ...delay('retryAfterSeconds') };
}
