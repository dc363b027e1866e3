// How runHttpTask's result is put together from the attempt it ended on (lib/http/run-http-task.ts).
import type { HttpTaskError, HttpTaskResult } from './http-task.js';
import type { Outcome } from './next-attempt.js';
import { parseRetryAfter } from './retry.js';

/** How a task failed; `retryAfterMs` when its last response asked for a wait it did not serve. */
export interface Failure {
  readonly error: HttpTaskError;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
}

/** A task's result from its last attempt's status and outcome, and how it ended (no `end`: a success). */
export function resultOf(
  at: Pick<HttpTaskResult, 'id' | 'status' | 'attempts'> & { readonly started: number },
  end: Failure | undefined,
  read: Outcome | undefined,
): HttpTaskResult {
  const { id, status, attempts } = at;
  const durationMs = Math.round(performance.now() - at.started);
  const result: { -readonly [K in keyof HttpTaskResult]: HttpTaskResult[K] } = {
    id,
    ok: end === undefined,
    status,
    attempts,
    durationMs,
  };
  if (end) [result.error, result.retryable] = [end.error, end.retryable];
  if (end?.retryAfterMs !== undefined) result.retryAfterMs = end.retryAfterMs;
  if (read && 'bytes' in read) result.bytes = read.bytes;
  if (read && 'text' in read && read.text !== undefined) result.body = read.text;
  return result as HttpTaskResult;
}

/** The wait a failed response asked for (Retry-After), in ms; undefined when it asked none it could parse. */
export const askedWait = (outcome: Outcome): number | undefined =>
  'retryAfter' in outcome ? parseRetryAfter(outcome.retryAfter) : undefined;
