// Runs one task through runHttpTask on the container's bounded dispatcher (through the downstream policy
// when config.downstream names the task's host), exactly once per job run when
// idempotency is per task: Powertools' makeIdempotent on DynamoDB, keyed by job, run and task id. A failed
// task throws inside the idempotent function, so Powertools deletes its record and a later attempt runs
// again; a completed one returns its stored result, marked `duplicate`, without running.
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { Context } from 'aws-lambda';
import { IdempotencyModes } from '../lib/config.js';
import type { ResolvedHostLimits } from '../lib/downstream/host-limits.js';
import { errorText } from '../lib/fanout/segment.js';
import type { TaskOutcome } from '../lib/fanout/settle.js';
import type { HttpTaskResult } from '../lib/http/http-task.js';
import { runHttpTask } from '../lib/http/run-http-task.js';
import type { JobTask } from '../lib/manifest/schema.js';
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
  readonly #idempotent: ((payload: { key: string; task: JobTask }) => Promise<TaskOutcome>) | undefined;

  constructor(runtime: FunctionRuntime) {
    this.#runtime = runtime;
    if (runtime.config.idempotency !== IdempotencyModes.TASK) return;
    this.#config = new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      expiresAfterSeconds: runtime.config.idempotencyTtlSeconds,
      responseHook: (response) => ({ ...(response as object), duplicate: true }),
    });
    this.#idempotent = makeIdempotent(
      async ({ task }: { key: string; task: JobTask }): Promise<TaskOutcome> => {
        const result = await this.runHttp(task);
        if (!result.ok) throw new TaskFailed(result);
        return result;
      },
      {
        persistenceStore: requirePersistence(runtime, 'task')!,
        config: this.#config,
        keyPrefix: 'bounded-fanout.task',
      },
    );
  }

  /** Lets in-progress records expire with the invocation, so a crashed worker does not block a task for a day. */
  registerContext(context: Context): void {
    this.#config?.registerLambdaContext(context);
  }

  async run(jobId: string, runId: string, task: JobTask): Promise<TaskOutcome> {
    if (!this.#idempotent) return this.runHttp(task);
    try {
      return await this.#idempotent({ key: `${jobId}:${runId}:${task.id}`, task });
    } catch (error) {
      if (error instanceof TaskFailed) return error.result;
      const reason =
        error instanceof IdempotencyAlreadyInProgressError
          ? 'already in progress in another delivery'
          : `idempotency store failed: ${errorText(error)}`;
      return { id: task.id, ok: false, attempts: 0, error: reason };
    }
  }

  runHttp(task: JobTask): Promise<TaskOutcome> {
    return runOverHttp(task, this.#runtime);
  }
}

/** The task over HTTP on the container's dispatcher, no idempotency: the result flattened to JSON. */
export async function runOverHttp(task: JobTask, runtime: FunctionRuntime): Promise<TaskOutcome> {
  const r = await sendTask(task, runtime);
  const base = {
    id: r.id,
    ok: r.ok,
    status: r.status,
    attempts: r.attempts,
    durationMs: Math.round(r.durationMs),
  };
  return r.error ? { ...base, error: `${r.error.code}: ${r.error.message}` } : base;
}

/**
 * A host `config.downstream` limits goes through the container's policy (its share of the host's
 * concurrency, rate and adaptive limit, retries included); any other host goes straight to runHttpTask,
 * as before the policy existed, bounded by the invocation's semaphore and the socket caps alone.
 */
function sendTask(task: JobTask, runtime: FunctionRuntime): Promise<HttpTaskResult> {
  const options = runtime.taskOptions;
  const policy = runtime.downstream;
  const key = policy?.keyOf(task.url);
  if (policy && key !== undefined && isLimited(policy.limitsOf(key))) return policy.run(task, options);
  return runHttpTask(task, options);
}

const isLimited = (limits: ResolvedHostLimits) =>
  limits.adaptive ||
  limits.maxConcurrency !== Number.POSITIVE_INFINITY ||
  limits.maxRequestsPerSecond !== Number.POSITIVE_INFINITY;
