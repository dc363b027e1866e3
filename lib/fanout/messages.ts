import { z } from 'zod';
import type { ManifestIssue } from '../manifest/errors.js';
import { toManifestIssues } from '../manifest/issues.js';
import { JobIdSchema, type JobTask, RawTaskSchema } from '../manifest/schema.js';
import { cutText } from '../wire/cut-text.js';
import { MAX_ERROR_CHARS } from '../wire/sqs-limits.js';
import { toWireJson } from '../wire/wire-json.js';
import { type SegmentCopy, SegmentCopySchema } from './segment-copy.js';

/*
What travels between the orchestrator, the worker and the dead-letter queue, as JSON:
- a task message (an SQS body, or the payload of a direct Invoke of the worker): the job, run, an
  idempotency key, the delivery attempt (1 for the orchestrator's send, +1 for each re-send of failed
  tasks) and the tasks themselves;
- a dead-letter message: tasks that failed for good, each with its attempts and last error.
`tasks` is always the last member, so a body can be built by joining pre-serialized tasks (see encode*).
Every SQS body is wire JSON (lib/wire/wire-json.ts): characters SQS refuses travel escaped, and
JSON.parse gives them back, so the readers below need nothing special.
*/

export const MESSAGE_VERSION = 1 as const;
export const MessageKinds = { TASKS: 'tasks', DEAD_LETTER: 'dead-letter' } as const;

const attempt = z
  .number({ error: 'is not an attempt number' })
  .int({ error: 'is not an attempt number' })
  .min(1, {
    error: 'is not an attempt number',
  });

export const TaskMessageSchema = z.strictObject(
  {
    v: z.literal(MESSAGE_VERSION, { error: `is not message version ${MESSAGE_VERSION}` }),
    kind: z.literal(MessageKinds.TASKS, { error: `is not "${MessageKinds.TASKS}"` }),
    jobId: JobIdSchema,
    runId: JobIdSchema,
    /** Idempotency key of the message: deterministic, so a re-run of the same segment sends the same keys. */
    key: z
      .string({ error: 'is not a string' })
      .min(1, { error: 'is empty' })
      .max(1024, { error: 'is too long' }),
    attempt,
    retryDelaySeconds: z.number().int().min(0).max(900).optional(),
    /** Its tasks were dead-lettered before and redriven: the ledger moves them out of `deadLettered`. */
    redrive: z.literal(true, { error: 'is not true' }).optional(),
    /** The segment copy that sent it or dead-lettered its tasks: it runs only if that copy's settle counted. */
    copy: SegmentCopySchema.optional(),
    /** The orchestrator segment that read its tasks: the ledger tallies its settles per segment. */
    segment: z.number().int().min(0).optional(),
    tasks: z.array(RawTaskSchema, { error: 'is not an array of tasks' }).min(1, { error: 'is empty' }),
  },
  { error: 'is not an object' },
);

export interface TaskMessage {
  readonly v: typeof MESSAGE_VERSION;
  readonly kind: typeof MessageKinds.TASKS;
  readonly jobId: string;
  readonly runId: string;
  readonly key: string;
  readonly attempt: number;
  readonly retryDelaySeconds?: number;
  /** Its tasks were dead-lettered before and redriven: the ledger moves them out of `deadLettered`. */
  readonly redrive?: true;
  /**
   * The orchestrator segment's copy that dead-lettered its tasks (a redrive) or handed them on (a paused
   * chunk): they run only if that copy's settle is the segment's (functions/segment-copies.ts).
   */
  readonly copy?: SegmentCopy;
  /**
   * The orchestrator segment that read its tasks, carried by every message made of them (retries, hand-ons):
   * the ledger tallies per segment what the workers settle (lib/aws/segment-tallies.ts). Absent on messages
   * sent before it was carried.
   */
  readonly segment?: number;
  readonly tasks: readonly JobTask[];
}

export type TaskEnvelope = Omit<TaskMessage, 'tasks'>;

/** One task that failed for good. */
export interface DeadLetterTask {
  readonly task: JobTask;
  /** Deliveries of the task (messages or Invoke calls), each with runHttpTask's own retries. */
  readonly attempts: number;
  readonly error: string;
  readonly status?: number;
}

export interface DeadLetterEnvelope {
  readonly v: typeof MESSAGE_VERSION;
  readonly kind: typeof MessageKinds.DEAD_LETTER;
  readonly jobId: string;
  readonly runId: string;
  /** Who dead-lettered: the orchestrator (inline, invoke, enqueue failures) or the worker. */
  readonly source: 'orchestrator' | 'worker';
  /** The orchestrator segment's copy that dead-lettered them (lib/fanout/segment-copy.ts); none from a worker. */
  readonly copy?: SegmentCopy;
}

export interface DeadLetterMessage extends DeadLetterEnvelope {
  readonly tasks: readonly DeadLetterTask[];
}

/**
 * A message body from pre-serialized items (each one's wire JSON: wireJson(item)): the envelope's JSON with
 * `tasks` appended last. The body is wire JSON too, so SQS takes it whatever the items hold.
 */
export function encodeMessage(
  envelope: TaskEnvelope | DeadLetterEnvelope,
  itemsJson: readonly string[],
): string {
  const head = toWireJson(JSON.stringify(envelope));
  return `${head.slice(0, -1)},"tasks":[${itemsJson.join(',')}]}`;
}

export function deadLetterTask(
  task: JobTask,
  attempts: number,
  error: string,
  status?: number,
): DeadLetterTask {
  const text = cutText(error, MAX_ERROR_CHARS, '…');
  return status === undefined ? { task, attempts, error: text } : { task, attempts, error: text, status };
}

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string; readonly issues: readonly ManifestIssue[] };

/** Parses a task message (an SQS body or an Invoke payload); every error names the field. */
export function parseTaskMessage(input: string | unknown): Parsed<TaskMessage> {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      const message = `body: is not valid JSON (${(error as Error).message})`;
      return { ok: false, error: message, issues: [{ path: 'body', message }] };
    }
  }
  const parsed = TaskMessageSchema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data as TaskMessage };
  const issues = toManifestIssues(parsed.error.issues.slice(0, 5), value, 'body');
  return { ok: false, error: issues.map((i) => i.message).join('; '), issues };
}

export type DeadLetterBody =
  | { readonly kind: 'dead-letter'; readonly message: DeadLetterMessage }
  | { readonly kind: 'tasks'; readonly message: TaskMessage }
  | { readonly kind: 'unreadable'; readonly body: string; readonly error: string };

/**
 * What a body found in the dead-letter queue holds: tasks dead-lettered with their errors, a whole task
 * message SQS moved after maxReceiveCount (the worker could not finish it), or a body that was never a
 * valid message (SQS moved it after maxReceiveCount too).
 */
export function readDeadLetterBody(body: string): DeadLetterBody {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { kind: 'unreadable', body, error: `body: is not valid JSON (${(error as Error).message})` };
  }
  if (isObject(value) && value.kind === MessageKinds.DEAD_LETTER && Array.isArray(value.tasks)) {
    return { kind: 'dead-letter', message: value as unknown as DeadLetterMessage };
  }
  const parsed = parseTaskMessage(value);
  return parsed.ok
    ? { kind: 'tasks', message: parsed.value }
    : { kind: 'unreadable', body, error: parsed.error };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * A dead-letter body moved back to the work queue (`bounded-fanout redrive`, or the console's DLQ redrive)
 * as work: its tasks again, from a fresh attempt, keyed by the SQS message id (the same for every delivery
 * of that message, so its settlement stays once-only).
 */
export function redriveMessage(dead: DeadLetterMessage, messageId: string): TaskMessage {
  return {
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: dead.jobId,
    runId: dead.runId,
    key: `${redriveKeyPrefix(dead.jobId, dead.runId)}${messageId}`,
    attempt: 1,
    redrive: true,
    ...(dead.copy ? { copy: dead.copy } : {}),
    tasks: dead.tasks.map((t) => t.task),
  };
}

/**
 * How the key of every redriven message of a run begins, and so of its follow-ups (their keys extend it):
 * job and run ids hold no `:`, so no other message of the run has it.
 */
export function redriveKeyPrefix(jobId: string, runId: string): string {
  return `${jobId}:${runId}:redrive:`;
}

/** A message body: a task message, or a redriven dead-letter message turned into one. */
export function parseWorkBody(body: string, messageId: string): Parsed<TaskMessage> {
  const parsed = parseTaskMessage(body);
  if (parsed.ok) return parsed;
  const dead = readDeadLetterBody(body);
  if (dead.kind !== 'dead-letter') return parsed;
  const again = parseTaskMessage(redriveMessage(dead.message, messageId));
  return again.ok ? again : parsed;
}
