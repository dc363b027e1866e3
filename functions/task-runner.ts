// Runs one task through runHttpTask on the container's bounded dispatcher (through the downstream policy,
// which decides whether the task's host is limited), exactly once per job run when
// idempotency is per task: Powertools' makeIdempotent on DynamoDB, keyed by job, run and task id. A failed
// task throws inside the idempotent function, so Powertools deletes its record and a later attempt runs
// again; a completed one returns its stored result, marked `duplicate`, without running.
import {
  IdempotencyAlreadyInProgressError,
  type IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { Context } from 'aws-lambda';
import { IdempotencyModes } from '../lib/config.js';
import { errorText } from '../lib/fanout/segment.js';
import { type TaskOutcome, taskOutcomeOf } from '../lib/fanout/task-outcome.js';
import type { HttpTaskResult } from '../lib/http/http-task.js';
import { resolveTaskHeaders, unresolvedResult } from '../lib/http/resolve-headers.js';
import { type RunHttpTaskOptions, runHttpTask } from '../lib/http/run-http-task.js';
import type { JobTask } from '../lib/manifest/schema.js';
import { IdempotencyUses, idempotencyOptions } from './idempotency.js';
import { type FunctionRuntime, requirePersistence } from './runtime.js';

class TaskFailed extends Error {
  readonly result: TaskOutcome;
  constructor(result: TaskOutcome) {
    super(result.error ?? `status ${result.status}`);
    this.name = 'TaskFailed';
    this.result = result;
  }
}

export class TaskRunner {
  readonly #runtime: FunctionRuntime;
  readonly #config: IdempotencyConfig | undefined;
  readonly #idempotent:
    | ((payload: { key: string; task: JobTask }, options: RunHttpTaskOptions) => Promise<TaskOutcome>)
    | undefined;

  constructor(runtime: FunctionRuntime) {
    this.#runtime = runtime;
    if (runtime.config.idempotency !== IdempotencyModes.TASK) return;
    const idempotency = idempotencyOptions(
      IdempotencyUses.TASK,
      requirePersistence(runtime, IdempotencyUses.TASK)!,
      runtime.config,
    );
    this.#config = idempotency.config;
    // The options travel as a second argument: Powertools hashes the first alone and passes both on.
    this.#idempotent = makeIdempotent(
      async ({ task }: { key: string; task: JobTask }, options: RunHttpTaskOptions): Promise<TaskOutcome> => {
        const result = await this.runHttp(task, options);
        if (!result.ok) throw new TaskFailed(result);
        return result;
      },
      idempotency,
    );
  }

  /** Lets in-progress records expire with the invocation, so a crashed worker does not block a task for a day. */
  registerContext(context: Context): void {
    this.#config?.registerLambdaContext(context);
  }

  /** Runs `task` with `options` (the invocation's: its deadline and abort signal), the container's unless given. */
  async run(
    jobId: string,
    runId: string,
    task: JobTask,
    options: RunHttpTaskOptions = this.#runtime.taskOptions,
  ): Promise<TaskOutcome> {
    if (!this.#idempotent) return this.runHttp(task, options);
    try {
      return await this.#idempotent({ key: `${jobId}:${runId}:${task.id}`, task }, options);
    } catch (error) {
      if (error instanceof TaskFailed) return error.result;
      const reason =
        error instanceof IdempotencyAlreadyInProgressError
          ? 'already in progress in another delivery'
          : `idempotency store failed: ${errorText(error)}`;
      return { id: task.id, ok: false, attempts: 0, error: reason };
    }
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
