// When to try again and how long to wait: exponential backoff with full jitter (the AWS Architecture
// Blog's "Exponential Backoff And Jitter"), Retry-After in both forms, and only for idempotent methods.
import { assertInteger } from '../errors.js';

export interface RetryOptions {
  /** Attempts in all, the first included. 1 turns retries off. */
  readonly maxAttempts?: number;
  /** The backoff's base: attempt n waits random() * min(maxMs, baseMs * 2^(n-1)). */
  readonly baseMs?: number;
  /** The cap on one backoff wait. */
  readonly maxMs?: number;
  /** The longest Retry-After honoured; a server asking for longer ends the retries (as in `got`). */
  readonly maxRetryAfterMs?: number;
}

export type ResolvedRetryOptions = Required<RetryOptions>;

export const defaultRetryOptions: ResolvedRetryOptions = {
  maxAttempts: 4,
  baseMs: 100,
  maxMs: 5_000,
  maxRetryAfterMs: 30_000,
};

export function resolveRetryOptions(retry: RetryOptions = {}): ResolvedRetryOptions {
  if (retry === defaultRetryOptions) return defaultRetryOptions;
  const {
    maxAttempts = defaultRetryOptions.maxAttempts,
    baseMs = defaultRetryOptions.baseMs,
    maxMs = defaultRetryOptions.maxMs,
    maxRetryAfterMs = defaultRetryOptions.maxRetryAfterMs,
  } = retry;
  assertInteger('retry.maxAttempts', maxAttempts);
  assertInteger('retry.baseMs', baseMs, { min: 0 });
  assertInteger('retry.maxMs', maxMs, { min: 0 });
  assertInteger('retry.maxRetryAfterMs', maxRetryAfterMs, { min: 0 });
  return { maxAttempts, baseMs, maxMs, maxRetryAfterMs };
}

/** The full-jitter wait after failed attempt `attempt` (1-based): uniform in [0, min(maxMs, baseMs * 2^(attempt-1))). */
export function backoffDelay(
  attempt: number,
  { baseMs, maxMs }: ResolvedRetryOptions,
  random: () => number,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Retry-After as milliseconds from `now`: delta-seconds or an HTTP-date (a date in the past is 0).
 * undefined when absent or unparsable, so the caller falls back to the backoff.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date names its weekday and GMT; anything else Date.parse would accept is not one.
  if (!/^[A-Za-z]{3},? .*GMT$|^[A-Za-z]+, .*GMT$|^[A-Za-z]{3} [A-Za-z]{3} /.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * 408 (Request Timeout), 425 (Too Early), 429 and 5xx are worth another try; the rest of 4xx will answer
 * the same again. The worker settles a failed task by the same rule (lib/fanout/settle.ts).
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** RFC 9110 section 9.2.2: a request that may be repeated without a different effect. */
export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method.toUpperCase());
}
