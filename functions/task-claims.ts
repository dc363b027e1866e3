// Per-task claims for the one kind of message whose tasks may be in flight under two message keys at once: a
// redriven dead letter. A dead letter's sends are at least once (a delivery that dies between its send and its
// answer sends it again when redelivered), and a redrive keys each DLQ message by its SQS id, so two copies of
// one dead letter come back as two messages. Their tasks then run under Powertools' makeIdempotent, one record
// per task (a claim in progress, then completed, or deleted on failure), as every task did before the task
// records (lib/aws/task-records.ts, whose records these are, in the same shape): of two copies running at once
// one runs the task and the other fails it as in progress, to be retried (then answered from the record).
// Redrives are rare and operator-made: two writes a task there cost nothing that matters.
import {
  IdempotencyAlreadyInProgressError,
  type IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { Context } from 'aws-lambda';
import { errorText } from '../lib/fanout/segment.js';
import type { TaskOutcome } from '../lib/fanout/task-outcome.js';
import type { RunHttpTaskOptions } from '../lib/http/run-http-task.js';
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

type RunHttp = (task: JobTask, options: RunHttpTaskOptions) => Promise<TaskOutcome>;

export class TaskClaims {
  readonly #config: IdempotencyConfig;
  readonly #idempotent: (
    payload: { key: string; task: JobTask },
    options: RunHttpTaskOptions,
  ) => Promise<TaskOutcome>;

  /** Claims on the runtime's idempotency table, running each claimed task with `runHttp`. */
  constructor(runtime: FunctionRuntime, runHttp: RunHttp) {
    const idempotency = idempotencyOptions(
      IdempotencyUses.TASK,
      requirePersistence(runtime, IdempotencyUses.TASK)!,
      runtime.config,
    );
    this.#config = idempotency.config;
    // The options travel as a second argument: Powertools hashes the first alone and passes both on.
    this.#idempotent = makeIdempotent(
      async ({ task }: { key: string; task: JobTask }, options: RunHttpTaskOptions) => {
        const result = await runHttp(task, options);
        if (!result.ok) throw new TaskFailed(result);
        return result;
      },
      idempotency,
    );
  }

  /** Lets in-progress claims expire with the invocation, so a crashed worker does not block a task for a day. */
  registerContext(context: Context): void {
    this.#config.registerLambdaContext(context);
  }

  /** Runs the task of `key` once: its stored result, marked `duplicate`, when it completed before. */
  async run(key: string, task: JobTask, options: RunHttpTaskOptions): Promise<TaskOutcome> {
    try {
      return await this.#idempotent({ key, task }, options);
    } catch (error) {
      if (error instanceof TaskFailed) return error.result;
      if (error instanceof IdempotencyAlreadyInProgressError)
        return { id: task.id, ok: false, attempts: 0, error: 'already in progress in another delivery' };
      return storeFailed(task, error);
    }
  }
}

/**
 * A task not run because the idempotency store could not guard it: a retryable failure that spends an
 * attempt, so a store that stays down ends in dead letters, not a loop.
 */
export function storeFailed(task: JobTask, error: unknown): TaskOutcome {
  return { id: task.id, ok: false, attempts: 0, error: `idempotency store failed: ${errorText(error)}` };
}
