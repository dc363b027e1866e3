// One asynchronous (Event) invocation as Lambda runs it: retried after an error (MaximumRetryAttempts), waiting
// out throttles without counting them as attempts, and sent to the function's dead-letter queue when the last
// retry fails (local/async-dead-letters.ts), and to its on-failure destination (local/async-destinations.ts).
// The Invoke endpoint (local/invoke-server.ts) keeps the outcome.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorText } from '../lib/fanout/segment.js';
import { type DeadLetterSink, deadLetter } from './async-dead-letters.js';
import type { FailedEvent } from './async-destinations.js';
import { FunctionThrottledError, type LocalFunction } from './local-function.js';

export interface AsyncInvocationRecord {
  readonly functionName: string;
  readonly requestId: string;
  /** 1 + retries after errors (throttled waits are not attempts). */
  readonly attempts: number;
  readonly status: 'succeeded' | 'failed';
  readonly result?: unknown;
  readonly error?: string;
  /** Which delivery of the event this was: 2 for a duplicate delivered by fault injection. */
  readonly delivery: number;
  /** A failed event: whether it was sent to its function's DLQ (false: the function has none, or the send failed). */
  readonly deadLettered?: boolean;
}

export interface AsyncInvocation {
  readonly fn: LocalFunction;
  readonly payload: unknown;
  readonly requestId: string;
  readonly delivery: number;
  readonly retryAttempts: number;
  readonly retryDelayMs: number;
  readonly deadLetters: DeadLetterSink | undefined;
  /** Told of an event that failed its last retry, after its dead letter (Lambda's on-failure destination). */
  readonly onFailed?: (failed: FailedEvent) => void;
}

/** Runs the event to success or its last failed retry; resolves to the outcome, never rejects. */
export async function runAsyncInvocation(invocation: AsyncInvocation): Promise<AsyncInvocationRecord> {
  const { fn, payload, requestId, delivery, retryAttempts, retryDelayMs, deadLetters, onFailed } = invocation;
  const base = { functionName: fn.name, requestId, delivery };
  let attempts = 0;
  for (;;) {
    try {
      attempts++;
      const result = await fn.invoke(payload, { awsRequestId: requestId });
      return { ...base, attempts, status: 'succeeded', result };
    } catch (error) {
      if (error instanceof FunctionThrottledError) {
        // Lambda keeps throttled events queued and tries again later; a throttle is not an attempt.
        attempts--;
        await sleep(Math.max(10, retryDelayMs));
        continue;
      }
      if (attempts > retryAttempts) {
        const message = errorText(error);
        const dead = await deadLetter(deadLetters, { functionName: fn.name, payload, requestId, error });
        onFailed?.({ functionName: fn.name, payload, requestId, error, attempts });
        return { ...base, attempts, status: 'failed', error: message, deadLettered: dead };
      }
      await sleep(retryDelayMs);
    }
  }
}
