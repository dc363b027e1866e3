// The orchestrator’s inline tasks and Invokes run until the invocation is close to its end. Reading stops when
// `deadlineMarginMs` is left and the segment then awaits what it started; an inline task to a host that never
// answers (or with a timeoutMs longer than the invocation) would hold it there until Lambda kills it, with
// nothing settled and the run broken, as would an Invoke of a worker busy on such a host. So when half the
// margin is left, what still runs is aborted (an Invoke abandoned) and its tasks dead-lettered with their error
// (lib/fanout/segment.ts; a redrive runs them again), leaving the other half to send them, settle and continue. Not handed to the work queue: a worker counts a message whichever copy of the
// segment sent it, and two copies of a segment (a retried invocation) cut off different tasks by timing, while
// only one copy's settle counts. Fast tasks are never refused for want of time: the worker's rule (no attempt
// that would end after the deadline) would fail every inline task of a short invocation, though most end in
// milliseconds.
import type { Context } from 'aws-lambda';
import { letGo } from '../lib/aws/s3-manifest.js';
import { abortAfter } from './abort-after.js';

export interface SegmentCutoff {
  /** Aborted when half the deadline margin is left. */
  readonly signal: AbortSignal;
  /** Stops the timer (the segment ended). */
  close(): void;
}

/**
 * The cutoff lets go of the S3 manifest's `body` too: a read stuck then (reopening a connection lost mid-read,
 * or stalled) would hold the segment past its deadline, killed with nothing settled and run again by Lambda's
 * retry; let go, the read ends and the segment stops there as at a deadline (lib/fanout/segment.ts).
 */
export function segmentCutoff(
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  marginMs: number,
  body?: unknown,
): SegmentCutoff {
  const cutoff = abortAfter(context.getRemainingTimeInMillis() - marginMs / 2);
  if (body !== undefined) cutoff.signal.addEventListener('abort', () => letGo(body), { once: true });
  return cutoff;
}
