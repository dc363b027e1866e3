// The shape of one HTTP task and its result, and the checks a task from a manifest must pass. A task is
// data: a bad one yields a failed result (code BF_INVALID_ARGUMENT), never an exception that fails a batch.
import { ErrorCodes } from '../errors.js';
import { redactUrl } from './redact.js';

export interface HttpTask {
  readonly id: string;
  readonly url: string;
  /** GET unless given. */
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Kept in memory so a retry can send it again. */
  readonly body?: string | Uint8Array | null;
  /**
   * Per attempt: the server has this long to answer with headers once the request is on a socket (time
   * queued for a socket does not count), and this long again for the whole body.
   */
  readonly timeoutMs?: number;
  /** The statuses that count as success; any 2xx unless given. */
  readonly expectStatus?: number | readonly number[];
  /** Let POST and PATCH be retried (only when the endpoint is known to be idempotent, e.g. an idempotency key). */
  readonly retryNonIdempotent?: boolean;
}

/** A plain, serialisable error (results travel to S3 and the DLQ as JSON). */
export interface HttpTaskError {
  readonly name: string;
  readonly code: string;
  readonly message: string;
}

export interface HttpTaskResult {
  readonly id: string;
  readonly ok: boolean;
  /** The last response's status; 0 when no response came. */
  readonly status: number;
  /** Attempts made, the first included; 0 when the task was invalid or aborted before starting. */
  readonly attempts: number;
  /** From the call to the result, waits between attempts included. */
  readonly durationMs: number;
  readonly error?: HttpTaskError;
  /**
   * On a failure, whether another delivery of the task may succeed, by runHttpTask's own retry rules: a
   * network error, a timeout, 408, 425, 429 or 5xx, or the task was cut short by an abort or the deadline,
   * and the method may be repeated (idempotent, or `retryNonIdempotent`). false for the rest (any other
   * status, a refused destination, an invalid task, a POST or PATCH without `retryNonIdempotent`): the
   * same request would fail the same way or repeat a side effect. Absent on success.
   */
  readonly retryable?: boolean;
  /**
   * On a failure whose last response carried Retry-After (delta-seconds or an HTTP-date): the wait it asked
   * for, in ms from that response. A fan-out's later delivery of the task waits at least this long
   * (lib/fanout/settle.ts), so a partner that asked for longer than runHttpTask waits is not hit early.
   */
  readonly retryAfterMs?: number;
  /** Bytes of the last response body read. */
  readonly bytes?: number;
  /** The last response body as text, when `keepBody` is set. */
  readonly body?: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export interface ValidTask {
  /** The URL's origin and path with query, as dispatcher.request takes them (parsed once, here). */
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly timeoutMs: number | undefined;
  readonly expect: readonly number[] | undefined;
}

/** The reason `task` cannot be run, or its parsed URL and normalised method, timeout and expected statuses. */
export function validateTask(task: HttpTask): ValidTask | HttpTaskError {
  const bad = (field: string, value: unknown, expected: string): HttpTaskError => ({
    name: 'InvalidArgumentError',
    code: ErrorCodes.INVALID_ARGUMENT,
    message: `Expected \`task.${field}\` to be ${expected}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
  });
  if (task === null || typeof task !== 'object') return bad('', task, 'an object');
  if (typeof task.id !== 'string' || task.id === '') return bad('id', task.id, 'a non-empty string');
  const url = typeof task.url === 'string' && /^https?:\/\//i.test(task.url) ? parseUrl(task.url) : undefined;
  if (url === undefined) {
    const shown = typeof task.url === 'string' ? redactUrl(task.url) : task.url;
    return bad('url', shown, 'an absolute http: or https: URL');
  }
  const method = task.method === undefined ? 'GET' : task.method;
  if (typeof method !== 'string' || !TOKEN.test(method)) return bad('method', task.method, 'an HTTP method');
  const { timeoutMs, expectStatus, body, headers } = task;
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    return bad('timeoutMs', timeoutMs, 'an integer >= 1');
  }
  const expect =
    expectStatus === undefined ? undefined : Array.isArray(expectStatus) ? expectStatus : [expectStatus];
  if (expect?.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    return bad('expectStatus', JSON.stringify(expectStatus), 'a status from 100 to 599 or an array of them');
  }
  if (body != null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    return bad('body', typeof body, 'a string or a Uint8Array');
  }
  if (headers !== undefined && (headers === null || typeof headers !== 'object' || Array.isArray(headers))) {
    return bad('headers', headers, 'an object of header names to values');
  }
  return {
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method: method.toUpperCase(),
    timeoutMs,
    expect: expect as readonly number[] | undefined,
  };
}

// One parse (URL.parse arrives only in Node 22): canParse and then new URL would parse twice.
function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
