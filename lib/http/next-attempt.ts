// What follows one attempt of runHttpTask: the end of the task (with whether its failure is worth another
// delivery) or a wait and another attempt; and the failure of a task its deadline cut short.
import { ErrorCodes } from '../errors.js';
import { DESTINATION_REFUSED } from './destination-guard.js';
import type { HttpTaskError } from './http-task.js';
import { RESPONSE_TOO_LARGE } from './read-body.js';
import { backoffDelay, isRetryableStatus, parseRetryAfter, type ResolvedRetryOptions } from './retry.js';

export const HTTP_STATUS = ErrorCodes.HTTP_STATUS;
/** The task was not started, or not tried again, because an attempt would have ended after `deadline`. */
export const DEADLINE = ErrorCodes.DEADLINE;

/** What one attempt came to: a response (read or not), or the error it failed with. */
export type Outcome =
  | {
      readonly status: number;
      readonly retryAfter?: string | string[];
      readonly bytes: number;
      readonly text?: string;
    }
  | { readonly status: number; readonly error: unknown };

export function isSuccess(status: number, expect: readonly number[] | undefined): boolean {
  return expect ? expect.includes(status) : status >= 200 && status <= 299;
}

const FINAL_CODES = new Set<string>([
  DESTINATION_REFUSED,
  RESPONSE_TOO_LARGE,
  ErrorCodes.ABORTED,
  ErrorCodes.INVALID_ARGUMENT,
  'UND_ERR_INVALID_ARG',
  'UND_ERR_ABORTED',
  'UND_ERR_NOT_SUPPORTED',
  'ERR_INVALID_URL',
  'ENOTFOUND',
]);

/**
 * What follows an attempt: the end (a success when no error; `retryable` says whether a failure is worth
 * another delivery), or a wait before the next attempt (`error` is the failure should it not come).
 */
export type Next =
  | { readonly end: true; readonly error?: HttpTaskError; readonly retryable: boolean }
  | {
      readonly end: false;
      readonly error: HttpTaskError;
      readonly delayMs: number;
      readonly source: 'retry-after' | 'backoff';
    };

export interface Attempted {
  readonly n: number;
  readonly id: string;
  /** The method may be sent again: idempotent, or the task allows it. */
  readonly mayRepeat: boolean;
  readonly expect: readonly number[] | undefined;
}

/** What `next` needs besides the outcome: the retry options, the jitter, and how an error becomes a result's. */
export interface RetryRules {
  readonly retry: ResolvedRetryOptions;
  readonly random: () => number;
  readonly toError: (error: unknown) => HttpTaskError;
}

/** The retry rules applied to one attempt's outcome. */
export function next(outcome: Outcome, { n, id, mayRepeat, expect }: Attempted, rules: RetryRules): Next {
  const { retry, random, toError } = rules;
  const { maxAttempts, maxRetryAfterMs } = retry;
  if ('error' in outcome) {
    const error = toError(outcome.error);
    const retryable = mayRepeat && !FINAL_CODES.has(error.code);
    if (!retryable || n >= maxAttempts) return { end: true, error, retryable };
    return { end: false, error, delayMs: backoffDelay(n, retry, random), source: 'backoff' };
  }
  const { status } = outcome;
  if (isSuccess(status, expect)) return { end: true, retryable: false };
  const failure = (detail = '') => ({
    name: 'HttpStatusError',
    code: HTTP_STATUS,
    message: `Unexpected status ${status} from task ${id}${detail}`,
  });
  if (!isRetryableStatus(status) || !mayRepeat) return { end: true, error: failure(), retryable: false };
  if (n >= maxAttempts) return { end: true, error: failure(` after ${n} attempts`), retryable: true };
  const retryAfter = parseRetryAfter(outcome.retryAfter);
  if (retryAfter === undefined) {
    return { end: false, error: failure(), delayMs: backoffDelay(n, retry, random), source: 'backoff' };
  }
  if (retryAfter > maxRetryAfterMs) {
    const detail = `: Retry-After ${retryAfter} ms exceeds maxRetryAfterMs (${maxRetryAfterMs})`;
    return { end: true, error: failure(detail), retryable: true };
  }
  return { end: false, error: failure(), delayMs: retryAfter, source: 'retry-after' };
}

/** The failure of a task its deadline cut short: no time for (another) attempt. */
export function cutShort(id: string, ms: number, last?: HttpTaskError): HttpTaskError {
  const why = `an attempt of ${ms} ms would end after the deadline`;
  if (last) return { ...last, message: `${last.message} (not tried again: ${why})` };
  return { name: 'DeadlineError', code: DEADLINE, message: `Task ${id} not started: ${why}` };
}
