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
import type { TaskMessage } from '../lib/fanout/messages.js';
import { errorText } from '../lib/fanout/segment.js';
import { type TaskOutcome, taskOutcomeOf } from '../lib/fanout/task-outcome.js';
import type { HttpTaskResult } from '../lib/http/http-task.js';
import { resolveTaskHeaders, unresolvedResult } from '../lib/http/resolve-headers.js';
import { type RunHttpTaskOptions, runHttpTask } from '../lib/http/run-http-task.js';
import type { JobTask } from '../lib/manifest/schema.js';
import { IdempotencyUses, idempotencyKeyPrefix } from './idempotency.js';
import { type FunctionRuntime, requirePersistence } from './runtime.js';
import { TaskClaims } from './task-claims.js';

/** Runs one task of the message it was made for. */
export type MessageTaskRunner = (task: JobTask, options?: RunHttpTaskOptions) => Promise<TaskOutcome>;

/** Told when a task succeeded but its record could not be stored: a later redelivery may run it again. */
export type RecordFailed = (message: string, details: { taskId: string; error: string }) => void;

const UNRECORDED = 'task succeeded but its idempotency record was not stored: a redelivery may run it again';

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
   * The runner of the tasks of one message of `jobId`/`runId`: in 'task' mode it reads which of `tasks` completed
   * before, in one call, first. If that read fails, no task runs unguarded: each fails with the store's error,
   * a retryable failure that spends an attempt (so a store that stays down ends in dead letters, not a loop).
   * A redriven dead letter's tasks (`claimEach`) are claimed one by one instead (functions/task-claims.ts).
   */
  async forMessage(
    jobId: string,
    runId: string,
    tasks: readonly JobTask[],
    claimEach = false,
  ): Promise<MessageTaskRunner> {
    const records = this.#records;
    if (!records) return (task, options) => this.runHttp(task, options);
    const keyOf = (task: JobTask) => `${jobId}:${runId}:${task.id}`;
    const claims = this.#claims;
    if (claimEach && claims)
      return (task, options = this.#runtime.taskOptions) => claims.run(keyOf(task), task, options);
    let done: Map<string, Record<string, unknown>>;
    try {
      done = await records.completed(tasks.map(keyOf));
    } catch (error) {
      const reason = `idempotency store failed: ${errorText(error)}`;
      return async (task) => ({ id: task.id, ok: false, attempts: 0, error: reason });
    }
    return async (task, options) => {
      const stored = done.get(keyOf(task));
      // Its own id whatever the record says: the settle counts by id.
      if (stored) return { ...(stored as unknown as TaskOutcome), id: task.id, duplicate: true };
      const result = await this.runHttp(task, options);
      // A success is a success whatever the store says: counted as one, only unguarded against a redelivery.
      if (result.ok) {
        await records
          .complete(keyOf(task), result as unknown as Record<string, unknown>)
          .catch((error) => this.#recordFailed(UNRECORDED, { taskId: task.id, error: errorText(error) }));
      }
      return result;
    };
  }

  /**
   * The stored results of `message`'s tasks that completed before (task mode), by task id, marked `duplicate`;
   * none in other modes, or when the records cannot be read (the caller then treats every task as not run).
   */
  async completedOf({ jobId, runId, tasks }: TaskMessage): Promise<ReadonlyMap<string, TaskOutcome>> {
    const keys = new Map(tasks.map((task) => [`${jobId}:${runId}:${task.id}`, task.id]));
    const stored = await this.#records?.completed([...keys.keys()]).catch(() => undefined);
    const out = new Map<string, TaskOutcome>();
    for (const [key, result] of stored ?? []) {
      const id = keys.get(key) as string;
      out.set(id, { ...(result as unknown as TaskOutcome), id, duplicate: true });
    }
    return out;
  }

  runHttp(task: JobTask, options: RunHttpTaskOptions = this.#runtime.taskOptions): Promise<TaskOutcome> {
    return runOverHttp(task, this.#runtime, options);
  }
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
