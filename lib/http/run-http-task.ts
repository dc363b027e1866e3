// One HTTP task with retries that respect the server, on undici's `request` over a bounded dispatcher.
// Never throws for a failed request: every outcome is a result, so a fan-out can count and keep each one.
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { AbortError, assertInteger, ErrorCodes, InvalidArgumentError, TimeoutError } from '../errors.js';
import {
  type HttpTask,
  type HttpTaskError,
  type HttpTaskResult,
  type ValidTask,
  validateTask,
} from './http-task.js';
import { cutShort, isSuccess, next, type Outcome } from './next-attempt.js';
import { readCappedBody } from './read-body.js';
import { Redactor, type SecretNames } from './redact.js';
import { isIdempotent, type ResolvedRetryOptions, type RetryOptions, resolveRetryOptions } from './retry.js';
import { askedWait, type Failure, resultOf } from './task-result.js';

export { DEADLINE, HTTP_STATUS } from './next-attempt.js';

/** Why an attempt is followed by another, for logs and tests. */
export interface RetryEvent {
  readonly id: string;
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  /** The wait before the next attempt. */
  readonly delayMs: number;
  /** `retry-after` when the server set the wait, `backoff` otherwise. */
  readonly source: 'retry-after' | 'backoff';
  readonly status: number;
  readonly code?: string;
}

export interface RunHttpTaskOptions {
  /** The bounded undici dispatcher (createHttpAgents().dispatcher). */
  readonly dispatcher: Dispatcher;
  readonly retry?: RetryOptions;
  /** Stops the task: the attempt in flight is aborted and no other starts; the result has code BF_ABORTED. */
  readonly signal?: AbortSignal;
  /** Per-attempt timeout when the task has none: for the headers once sent, and again for the body. */
  readonly timeoutMs?: number;
  /**
   * When every attempt must be over, on the `now` clock (epoch ms): an attempt, its backoff wait included,
   * starts only if its timeout ends by then. The result of a task cut short says `retryable: true`, with
   * `attempts: 0` (code BF_DEADLINE) when no attempt started. A worker passes its invocation's deadline
   * less the time it needs to settle, so no attempt outlives the invocation (an attempt's body may still
   * take up to its timeout again: the caller's `signal` is the backstop).
   */
  readonly deadline?: number;
  /** The clock of `deadline`; Date.now unless given. */
  readonly now?: () => number;
  /** Response bodies longer than this fail the task (code BF_RESPONSE_TOO_LARGE). */
  readonly maxBodyBytes?: number;
  /** Return the final response body as text in `result.body`. */
  readonly keepBody?: boolean;
  /** More header names or patterns to keep out of errors, beyond authorization, cookie, x-api-key and the like. */
  readonly secretHeaders?: SecretNames;
  readonly onRetry?: (event: RetryEvent) => void;
  /** The jitter source, Math.random unless given. */
  readonly random?: () => number;
  /** How a wait is spent; timers/promises' setTimeout unless given (tests record the waits instead). */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Asked once, right before the first attempt is sent: why the task may no longer start, or undefined to
   * send it. A downstream policy runs the task once it holds its host's permit and rate token, so this comes
   * after that wait, which may be long: a worker asks whether the task's run was paused meanwhile. A task
   * refused here sent nothing: `attempts: 0`, `retryable: true`, this error.
   */
  readonly beforeStart?: (task: HttpTask) => Promise<HttpTaskError | undefined> | HttpTaskError | undefined;
  /**
   * Asked right before each attempt after the first (`attempt`: 2, 3, ...), once its wait is over: why the
   * task may not be tried again, or undefined to send it. A worker asks whether the task's run was paused
   * during the wait: a retry is a request to a host the operator may have paused the run for. A task refused
   * here ends with the attempts it made, `retryable: true`, this error. Asked before the deadline is checked
   * for that attempt: the deadline then counts the time the answer took.
   */
  readonly beforeRetry?: (
    task: HttpTask,
    attempt: number,
  ) => Promise<HttpTaskError | undefined> | HttpTaskError | undefined;
}

export const defaultTaskTimeoutMs = 10_000;
export const defaultMaxBodyBytes = 1024 * 1024;

interface Resolved {
  readonly dispatcher: Dispatcher;
  readonly retry: ResolvedRetryOptions;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly keepBody: boolean;
  readonly redactor: Redactor;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
  readonly random: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly now: () => number;
}

const defaultSleep = (ms: number, signal?: AbortSignal) => sleepFor(ms, undefined, { signal });
const resolvedCache = new WeakMap<RunHttpTaskOptions, Resolved>();
/** Options made by invocationOptions, each with the container's options it was made from. */
const invocationBases = new WeakMap<RunHttpTaskOptions, RunHttpTaskOptions>();

/** What one invocation (or one message of it) adds to the container's options: deadline, signal, clock, gate. */
export type InvocationTaskOptions = Pick<
  RunHttpTaskOptions,
  'deadline' | 'signal' | 'now' | 'beforeStart' | 'beforeRetry'
>;

/**
 * The container's options with one invocation's deadline, signal and clock (and an invocation's options with
 * one message's `beforeStart`). What the container's options resolve to (retry policy, timeouts, body cap,
 * redactor, dispatcher) is built once for them and shared by every invocation made from them, not built again
 * per invocation, message or task.
 */
export function invocationOptions(base: RunHttpTaskOptions, own: InvocationTaskOptions): RunHttpTaskOptions {
  const options: RunHttpTaskOptions = { ...base, ...own };
  invocationBases.set(options, base);
  return options;
}

function resolveOptions(options: RunHttpTaskOptions): Resolved {
  const cached = resolvedCache.get(options);
  if (cached) return cached;
  const base = invocationBases.get(options);
  if (base) return resolveInvocation(options, resolveOptions(base));
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', options, 'an object with a `dispatcher`');
  }
  const { dispatcher, retry, timeoutMs = defaultTaskTimeoutMs, maxBodyBytes = defaultMaxBodyBytes } = options;
  if (!dispatcher || typeof (dispatcher as Dispatcher).dispatch !== 'function') {
    throw new InvalidArgumentError('dispatcher', dispatcher, 'an undici Dispatcher');
  }
  if (options.deadline !== undefined && !Number.isFinite(options.deadline)) {
    throw new InvalidArgumentError('deadline', options.deadline, 'a finite time in milliseconds');
  }
  const resolved: Resolved = {
    dispatcher,
    retry: resolveRetryOptions(retry),
    timeoutMs: assertInteger('timeoutMs', timeoutMs),
    maxBodyBytes: assertInteger('maxBodyBytes', maxBodyBytes, { min: 0 }),
    keepBody: options.keepBody === true,
    redactor: new Redactor(options.secretHeaders),
    onRetry: options.onRetry,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? defaultSleep,
    now: options.now ?? Date.now,
  };
  resolvedCache.set(options, resolved);
  return resolved;
}

/** An invocation's options over its container's resolved ones: only its own deadline and clock checked. */
function resolveInvocation(options: RunHttpTaskOptions, base: Resolved): Resolved {
  if (options.deadline !== undefined && !Number.isFinite(options.deadline)) {
    throw new InvalidArgumentError('deadline', options.deadline, 'a finite time in milliseconds');
  }
  const now = options.now ?? Date.now;
  const resolved: Resolved = now === base.now ? base : { ...base, now };
  resolvedCache.set(options, resolved);
  return resolved;
}

const UNDICI_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * One attempt. Its clock is undici's own: `headersTimeout` from the moment the request is written to a
 * socket (time queued for a socket under the cap does not count), then `bodyTimeout` between chunks and a
 * deadline of `ms` for the whole body, checked on each chunk (a trickle cannot go on for ever).
 */
async function attempt(
  task: HttpTask,
  valid: ValidTask,
  ms: number,
  r: Resolved,
  signal?: AbortSignal,
): Promise<Outcome> {
  let status = 0;
  const { expect } = valid;
  try {
    const { statusCode, headers, body } = await r.dispatcher.request({
      origin: valid.origin,
      path: valid.path,
      method: valid.method as Dispatcher.HttpMethod,
      headers: task.headers,
      body: task.body ?? undefined,
      signal,
      headersTimeout: ms,
      bodyTimeout: ms,
    });
    status = statusCode;
    if (!isSuccess(statusCode, expect)) {
      await body.dump();
      return { status: statusCode, retryAfter: headers['retry-after'], bytes: 0 };
    }
    const read = await readCappedBody(body, r.maxBodyBytes, r.keepBody, headers['content-length'], ms);
    return { status: statusCode, bytes: read.bytes, text: read.text };
  } catch (error) {
    const code = (error as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string' && UNDICI_TIMEOUTS.has(code)) {
      return { status, error: new TimeoutError(ms, `Attempt of task ${task.id}`) };
    }
    return { status, error };
  }
}

function toTaskError(error: unknown, task: HttpTask, r: Resolved): HttpTaskError {
  const e = error as
    | { name?: string; code?: unknown; message?: string; cause?: { code?: unknown } }
    | undefined;
  const code =
    typeof e?.code === 'string'
      ? e.code
      : typeof e?.cause?.code === 'string'
        ? e.cause.code
        : ErrorCodes.NETWORK;
  const message = r.redactor.scrub(String(e?.message ?? error), r.redactor.secretValues(task.headers));
  return { name: e?.name ?? 'Error', code, message };
}

/**
 * Runs `task` on `options.dispatcher`: per-attempt timeout, up to `retry.maxAttempts` attempts on network
 * errors, timeouts, 408, 425, 429 and 5xx with full-jitter backoff or the server's Retry-After, never
 * retrying POST or PATCH unless the task allows it, no attempt started that would end after
 * `options.deadline`, the body streamed and capped. Resolves to a result for every outcome; a failed one
 * says whether it is `retryable`. Throws InvalidArgumentError only for bad `options` (a bad task is a
 * failed result).
 */
export async function runHttpTask(task: HttpTask, options: RunHttpTaskOptions): Promise<HttpTaskResult> {
  const r = resolveOptions(options);
  const started = performance.now();
  const id = typeof task?.id === 'string' ? task.id : String(task?.id);
  const done = (status: number, attempts: number, end: Failure | undefined, read?: Outcome) =>
    resultOf({ id, started, status, attempts }, end, read);
  const valid = validateTask(task);
  if ('code' in valid) return done(0, 0, { error: valid, retryable: false });
  const { signal, deadline } = options;
  const refused = await options.beforeStart?.(task);
  if (refused) return done(0, 0, { error: refused, retryable: true });
  const ms = valid.timeoutMs ?? r.timeoutMs;
  const fits = (waitMs: number) => deadline === undefined || r.now() + waitMs + ms <= deadline;
  // Nothing was sent: another delivery may run it, whatever the method.
  if (signal?.aborted) return done(0, 0, { error: aborted(id, task, r), retryable: true });
  if (!fits(0)) return done(0, 0, { error: cutShort(id, ms), retryable: true });
  const mayRepeat = task.retryNonIdempotent === true || isIdempotent(valid.method);
  const rules = { retry: r.retry, random: r.random, toError: (e: unknown) => toTaskError(e, task, r) };
  // An abort mid-attempt: the request may have reached the server, so only a repeatable method is retryable.
  const abortedAt = (status: number, n: number) =>
    done(status, n, { error: aborted(id, task, r), retryable: mayRepeat });

  for (let n = 1; ; n++) {
    const outcome = await attempt(task, valid, ms, r, signal);
    const { status } = outcome;
    if (signal?.aborted) return abortedAt(status, n);
    const then = next(outcome, { n, id, mayRepeat, expect: valid.expect }, rules);
    // Ended with a wait asked and not served (over maxRetryAfterMs, out of attempts or of time): passed on.
    const retryAfterMs = askedWait(outcome);
    if (then.end) {
      return done(
        status,
        n,
        then.error && { error: then.error, retryable: then.retryable, retryAfterMs },
        outcome,
      );
    }
    if (!fits(then.delayMs)) {
      return done(status, n, { error: cutShort(id, ms, then.error), retryable: true, retryAfterMs });
    }
    const { delayMs, source, error } = then;
    r.onRetry?.({ id, attempt: n, delayMs, source, status, code: error.code });
    try {
      await r.sleep(delayMs, signal);
    } catch (e) {
      if (signal?.aborted) return abortedAt(status, n);
      return done(status, n, { error: toTaskError(e, task, r), retryable: mayRepeat });
    }
    if (signal?.aborted) return abortedAt(status, n);
    // Asked before the deadline's check, as beforeStart is: its look (a ledger read) takes time of its own,
    // and a task its run stopped is the run's (a paused run's is handed on), whatever the time left.
    const refusedRetry = await options.beforeRetry?.(task, n + 1);
    if (refusedRetry) return done(status, n, { error: refusedRetry, retryable: true });
    // The wait may have run long (a downstream policy queues the retry behind its limits), and the look too.
    if (!fits(0)) return done(status, n, { error: cutShort(id, ms, error), retryable: true });
  }
}

const aborted = (id: string, task: HttpTask, r: Resolved) =>
  toTaskError(new AbortError(`Task ${id} was aborted`), task, r);
