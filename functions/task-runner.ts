// Runs one message's tasks through runHttpTask on the container's bounded dispatcher (through the downstream
// policy, which decides whether the task's host is limited). In 'task' idempotency mode a task that completed
// in an earlier delivery of its message is not run again: the message's completed tasks are read at once
// before any runs, and each task that succeeds is recorded before its result is returned (lib/aws/task-records.ts,
// which says why records and not Powertools' per-task claims). A replayed task answers its stored result,
// marked `duplicate`. A failed task is not recorded, so a later attempt runs it again. A redriven dead
// letter's tasks, which two copies of it may run at once, are claimed one by one instead (task-claims.ts).
import type { Context } from 'aws-lambda';
import { TaskRecords } from '../lib/aws/task-records.js';
import { IdempotencyModes } from '../lib/config.js';
import { errorText } from '../lib/fanout/segment.js';
import { type TaskOutcome, taskOutcomeOf } from '../lib/fanout/task-outcome.js';
import type { HttpTaskResult } from '../lib/http/http-task.js';
import { resolveTaskHeaders, unresolvedResult } from '../lib/http/resolve-headers.js';
import { type RunHttpTaskOptions, runHttpTask } from '../lib/http/run-http-task.js';
import type { JobTask } from '../lib/manifest/schema.js';
import { IdempotencyUses, idempotencyKeyPrefix } from './idempotency.js';
import { type FunctionRuntime, requirePersistence } from './runtime.js';
import { storeFailed, TaskClaims } from './task-claims.js';

/** Runs one task of the message it was made for. */
export type MessageTaskRunner = (task: JobTask, options?: RunHttpTaskOptions) => Promise<TaskOutcome>;

/** One message's tasks, prepared to run. */
export interface PreparedMessage {
  readonly run: MessageTaskRunner;
  /** The stored results of its tasks an earlier delivery completed (task mode), by task id, marked `duplicate`. */
  readonly completed: ReadonlyMap<string, TaskOutcome>;
}

/** Told when a task succeeded but its record could not be stored: a later redelivery may run it again. */
export type RecordFailed = (message: string, details: { taskId: string; error: string }) => void;

const UNRECORDED = 'task succeeded but its idempotency record was not stored: a redelivery may run it again';

/** A task's key in 'task' mode: its record says the task of this run completed (a resume reads it too). */
export const taskRecordKey = (jobId: string, runId: string, taskId: string): string =>
  `${jobId}:${runId}:${taskId}`;

export class TaskRunner {
  readonly #runtime: FunctionRuntime;
  readonly #records: TaskRecords | undefined;
  readonly #claims: TaskClaims | undefined;
  readonly #recordFailed: RecordFailed;

  constructor(runtime: FunctionRuntime, recordFailed: RecordFailed = () => {}) {
    this.#runtime = runtime;
    this.#recordFailed = recordFailed;
    if (runtime.config.idempotency !== IdempotencyModes.TASK) return;
    requirePersistence(runtime, IdempotencyUses.TASK);
    this.#records = new TaskRecords(runtime.aws.dynamodb, {
      tableName: runtime.wiring.idempotencyTable as string,
      idPrefix: idempotencyKeyPrefix(IdempotencyUses.TASK),
      ttlSeconds: runtime.config.idempotencyTtlSeconds,
    });
    this.#claims = new TaskClaims(runtime, (task, options) => this.runHttp(task, options));
  }

  /** Lets redriven tasks' claims expire with the invocation (functions/task-claims.ts). */
  registerContext(context: Context): void {
    this.#claims?.registerContext(context);
  }

  /**
   * One message of `jobId`/`runId` prepared: in 'task' mode which of `tasks` completed before is read first, in
   * one call. If that read fails, no task runs unguarded: each fails with the store's error, a retryable
   * failure that spends an attempt (so a store that stays down ends in dead letters, not a loop). A redriven
   * dead letter's tasks (`claimEach`) are claimed one by one instead (functions/task-claims.ts).
   */
  async forMessage(
    jobId: string,
    runId: string,
    tasks: readonly JobTask[],
    claimEach = false,
  ): Promise<PreparedMessage> {
    const records = this.#records;
    const none = new Map<string, TaskOutcome>();
    if (!records) return { run: (task, options) => this.runHttp(task, options), completed: none };
    const keyOf = (task: JobTask) => taskRecordKey(jobId, runId, task.id);
    const claims = this.#claims;
    if (claimEach && claims) {
      const run: MessageTaskRunner = (task, options = this.#runtime.taskOptions) =>
        claims.run(keyOf(task), task, options);
      return { run, completed: none };
    }
    let completed: Map<string, TaskOutcome>;
    try {
      completed = await completedBefore(records, tasks, keyOf);
    } catch (error) {
      return { run: async (task) => storeFailed(task, error), completed: none };
    }
    const run: MessageTaskRunner = async (task, options) => {
      const stored = completed.get(task.id);
      if (stored) return stored;
      const result = await this.runHttp(task, options);
      // A success is a success whatever the store says: counted as one, only unguarded against a redelivery.
      if (result.ok) {
        await records
          .complete(keyOf(task), result as unknown as Record<string, unknown>)
          .catch((error) => this.#recordFailed(UNRECORDED, { taskId: task.id, error: errorText(error) }));
      }
      return result;
    };
    return { run, completed };
  }

  runHttp(task: JobTask, options: RunHttpTaskOptions = this.#runtime.taskOptions): Promise<TaskOutcome> {
    return runOverHttp(task, this.#runtime, options);
  }
}

/** The stored results of `tasks` that completed before, by task id: each keeps its own id, marked `duplicate`. */
async function completedBefore(
  records: TaskRecords,
  tasks: readonly JobTask[],
  keyOf: (task: JobTask) => string,
): Promise<Map<string, TaskOutcome>> {
  const stored = await records.completed(tasks.map(keyOf));
  const out = new Map<string, TaskOutcome>();
  for (const task of tasks) {
    const result = stored.get(keyOf(task));
    // Its own id whatever the record says: the settle counts by id.
    if (result) out.set(task.id, { ...(result as unknown as TaskOutcome), id: task.id, duplicate: true });
  }
  return out;
}

/**
 * The task over HTTP on the container's dispatcher, no idempotency: the result flattened to JSON, a failure
 * with runHttpTask's `retryable`, and `unstarted` when no attempt began (the deadline or an abort came first).
 */
export async function runOverHttp(
  task: JobTask,
  runtime: FunctionRuntime,
  options: RunHttpTaskOptions = runtime.taskOptions,
): Promise<TaskOutcome> {
  return taskOutcomeOf(await sendTask(task, runtime, options));
}

/**
 * Through the container's downstream policy when there is one (it decides limited or direct), else direct.
 * Secret references become values here, for this request only (lib/http/resolve-headers.ts).
 */
async function sendTask(
  job: JobTask,
  runtime: FunctionRuntime,
  options: RunHttpTaskOptions,
): Promise<HttpTaskResult> {
  const resolved = await resolveTaskHeaders(job, runtime.secrets);
  if (!resolved.ok) return unresolvedResult(job.id, resolved.error);
  const task = resolved.task;
  return runtime.downstream ? runtime.downstream.run(task, options) : runHttpTask(task, options);
}
