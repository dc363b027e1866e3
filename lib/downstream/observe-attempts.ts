// Hand-written, part of the product: an undici interceptor that reports every attempt's outcome per host
// (status, Retry-After, latency, timeout) to the adaptive limit. runHttpTask retries 429s and 503s inside
// itself, so its final result alone would hide them; the dispatcher sees every attempt, so the limit
// learns from each one without any change to runHttpTask.
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { ErrorCodes } from '../errors.js';
import type { Clock } from './clock.js';

export interface AttemptOutcome {
  /** The final status; undefined when no response came. */
  readonly status?: number;
  readonly latencyMs: number;
  readonly timedOut: boolean;
  readonly retryAfter?: string;
}

const TIMEOUT_CODES = new Set<string>([
  ErrorCodes.TIMEOUT,
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/** A timeout of the attempt (ours, undici's, or the socket's), as opposed to an abort by the caller. */
export function isTimeout(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown } | null | undefined;
  return (typeof e?.code === 'string' && TIMEOUT_CODES.has(e.code)) || e?.name === 'TimeoutError';
}

/**
 * Wraps `dispatch` so each request whose origin `keyOf` maps to a key is reported once, at its response
 * headers or its failure, to `report`. Requests of other origins pass through untouched.
 */
export function observeAttempts(
  keyOf: (origin: string) => string | undefined,
  report: (key: string, outcome: AttemptOutcome) => void,
  clock: Clock,
): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    const key = opts.origin === undefined ? undefined : keyOf(String(opts.origin));
    if (key === undefined) return dispatch(opts, handler);
    return dispatch(opts, new ObservedHandler(handler, key, report, clock));
  };
}

class ObservedHandler implements Dispatcher.DispatchHandler {
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #key: string;
  readonly #report: (key: string, outcome: AttemptOutcome) => void;
  readonly #clock: Clock;
  readonly #sentAt: number;
  #reported = false;

  constructor(
    handler: Dispatcher.DispatchHandler,
    key: string,
    report: (key: string, outcome: AttemptOutcome) => void,
    clock: Clock,
  ) {
    this.#handler = handler;
    this.#key = key;
    this.#report = report;
    this.#clock = clock;
    this.#sentAt = clock.now();
  }

  #once(outcome: Omit<AttemptOutcome, 'latencyMs'>): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#report(this.#key, { ...outcome, latencyMs: Math.max(0, this.#clock.now() - this.#sentAt) });
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: import('node:stream').Duplex,
  ): void {
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode >= 200) {
      const retryAfter = headers['retry-after'];
      this.#once({
        status: statusCode,
        timedOut: false,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      });
    }
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.#handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#once({ status: undefined, timedOut: isTimeout(error) });
    this.#handler.onResponseError?.(controller, error);
  }
}
