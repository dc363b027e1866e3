import type { HttpTaskResult } from '../http/http-task.js';

// The one result type of a task on its path from runHttpTask to the settlement: what the worker's task
// runner returns, what an Invoke answers the orchestrator with (as JSON), what the segment counts and
// settleMessage settles. runHttpTask's own HttpTaskResult is turned into it once, by taskOutcomeOf.
// Two types on purpose: HttpTaskResult is the public result of `bounded-fanout/http` (a structured error,
// the body and its size), and knows nothing of a fan-out; TaskOutcome is a wire record (an Invoke answer,
// the idempotency store, dead letters) that drops the body, flattens the error to `code: message`, and
// carries what only the fan-out decides: `unstarted`, `paused`, `cancelled`, `duplicate`.

export interface TaskOutcome {
  readonly id: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly attempts: number;
  readonly durationMs?: number;
  readonly error?: string;
  /**
   * On a failure: false when another delivery would fail the same way or repeat a side effect (runHttpTask's
   * `retryable`), so it is dead-lettered at once; a failure that does not say is retryable.
   */
  readonly retryable?: boolean;
  /**
   * On a failure: the wait its last response asked for (Retry-After), in ms. Its retry message is delayed at
   * least this long, and a task asking for more than SQS can delay a message is dead-lettered (settle.ts).
   */
  readonly retryAfterMs?: number;
  /** Not started (the invocation's deadline was too near, or its run is paused): handed on, no attempt spent. */
  readonly unstarted?: boolean;
  /**
   * With `unstarted`: not started because its run is paused (the job ledger said so). An Invoke's such task
   * goes to the work queue, where the worker holds it until the resume; it is no failure.
   */
  readonly paused?: boolean;
  /** Not started because its run was cancelled or failed (the job ledger said so): it ends here, counted. */
  readonly cancelled?: boolean;
  /** The task had already completed in an earlier delivery: its stored result was returned, it did not run. */
  readonly duplicate?: boolean;
}

/**
 * runHttpTask's result flattened to JSON: a failure with its `retryable`, and `unstarted` when no attempt
 * began (the deadline or an abort came first).
 */
export function taskOutcomeOf(r: HttpTaskResult): TaskOutcome {
  const base = {
    id: r.id,
    ok: r.ok,
    status: r.status,
    attempts: r.attempts,
    durationMs: Math.round(r.durationMs),
  };
  if (!r.error) return base;
  const failed: TaskOutcome = {
    ...base,
    error: `${r.error.code}: ${r.error.message}`,
    retryable: r.retryable !== false,
    ...(r.retryAfterMs === undefined ? {} : { retryAfterMs: r.retryAfterMs }),
  };
  return r.attempts === 0 && r.retryable === true ? { ...failed, unstarted: true } : failed;
}
