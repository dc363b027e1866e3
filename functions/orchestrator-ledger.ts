// The orchestrator's side of the job ledger: it records a new run under the schedule's overlap policy,
// waits while the run is paused, stops reading when the run is cancelled or failed elsewhere, applies the
// run's inline limit override, and settles each segment's counts and where the job goes on (one write per
// segment).
import { parseSegmentEnd, type SegmentEndState } from '../lib/fanout/continuation.js';
import type { FailureBudget } from '../lib/fanout/failure-budget.js';
import type { SegmentPorts, SegmentResult } from '../lib/fanout/segment.js';
import { segmentSettleKey } from '../lib/fanout/segment-copy.js';
import { type JobCounts, type JobPeaks, type StopReason, StopReasons } from '../lib/fanout/summary.js';
import type { RunControl } from '../lib/ledger/run-control.js';
import type { CountDelta, RunRecord } from '../lib/ledger/run-record.js';
import { RunStatuses } from '../lib/ledger/run-record.js';
import { isLive } from '../lib/ledger/run-rules.js';
import type { OpenJob } from './open-job.js';
import type { RunLedger } from './run-ledger.js';

/** How long a paused orchestrator sleeps between looks at the ledger (its record is cached 2 s anyway). */
export const PAUSE_POLL_MS = 1_000;

/** What the segment's counts add to the ledger: one task read is one submitted. */
export function segmentDelta(before: JobCounts, after: JobCounts): CountDelta {
  const d = (k: keyof JobCounts) => after[k] - before[k];
  return {
    submitted: d('read'),
    succeeded: d('inlineSucceeded') + d('invokeSucceeded'),
    deadLettered: d('deadLettered'),
    undeliverable: d('undeliverable'),
    invalid: d('invalid'),
    cancelled: d('cancelled'),
  };
}

/** The ledger key of a segment's settle: only the first settle of a segment counts. */
export function segmentKey(job: OpenJob): string {
  return segmentSettleKey(job.state.segment);
}

/** The end the first settle of this segment kept, when one did (with a job table wired). */
export function storedEnd(ledger: RunLedger | undefined, job: OpenJob): Promise<SegmentEndState | undefined> {
  return keptEnd(ledger, { jobId: job.jobId, runId: job.runId, segment: job.state.segment });
}

/** The end the first settle of a run's segment kept; undefined when none did, or one that is no end (a break's). */
export async function keptEnd(
  ledger: RunLedger | undefined,
  { jobId, runId, segment }: { readonly jobId: string; readonly runId: string; readonly segment: number },
): Promise<SegmentEndState | undefined> {
  if (!ledger) return undefined;
  return parseSegmentEnd(await ledger.store.settledState(jobId, runId, segmentSettleKey(segment)));
}

/**
 * The run's inlineConcurrency override (lib/ledger/run-limits.ts checks it when set), asked of the cached
 * record (refreshed every 2 s) before each inline task: a running segment follows a change within about 2 s,
 * never above the deployed and job limits (the segment caps it at its own).
 */
export function inlineOverride(record: RunRecord | undefined): number | undefined {
  const asked = record?.limits?.inlineConcurrency;
  // One the store took unchecked (below 1, a fraction) would throw in the segment's semaphore and fail every
  // attempt of the segment: the worker's rule (invocation-permits.ts), whole values from 1 only.
  return asked !== undefined && asked >= 1 ? Math.floor(asked) : undefined;
}

/**
 * The segment's ports with the run's host overrides (a downstream host's maxConcurrency and
 * maxRequestsPerSecond) put on the container's policy before each inline task, from the cached record as
 * `current` gives it (refreshed every 2 s): the orchestrator's own tasks to a host follow a change within
 * about 2 s, as a worker's do (RunLedger.applyDownstream, once per record version).
 */
export function withHostOverrides(
  ports: SegmentPorts,
  ledger: RunLedger | undefined,
  current: () => RunRecord | undefined,
): SegmentPorts {
  if (!ledger) return ports;
  return {
    ...ports,
    runInline: (task, cutoff) => {
      ledger.applyDownstream(current());
      return ports.runInline(task, cutoff);
    },
  };
}

/** Why reading stopped when the ledger says the run is over (cancelled, or failed elsewhere). */
export function ledgerStop(record: RunRecord | undefined): StopReason | undefined {
  if (!record || isLive(record.status)) return undefined;
  return record.status === RunStatuses.CANCELLED ? StopReasons.CANCELLED : StopReasons.FAILURE_BUDGET;
}

/** The segment's `hold`: returns once the run is not paused, or when the deadline comes near. */
export function pauseHold(
  control: RunControl,
  jobId: string,
  runId: string,
  deadlineNear: () => boolean,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): () => Promise<void> {
  return async () => {
    // The cached record answers without a read; once it is 2 s old, the shared read again does (view, not
    // peek: a stale copy let a task start seconds into a pause, as the worker's stoppedOutcome says).
    if ((await control.view(jobId, runId))?.status !== RunStatuses.PAUSED) return;
    while (!deadlineNear()) {
      await sleep(PAUSE_POLL_MS);
      const record = await control.view(jobId, runId);
      if (record?.status !== RunStatuses.PAUSED) return;
    }
  };
}

/**
 * What this segment's settle keeps: where the job goes on (only at a deadline stop) and its counts (and, added
 * by the caller, this copy's id).
 */
export function endState(
  { state, source }: OpenJob,
  outcome: SegmentResult,
  reason: StopReason,
  peaks: JobPeaks,
  budget: FailureBudget,
): SegmentEndState {
  const continuing = reason === StopReasons.DEADLINE && outcome.cursor !== undefined;
  return {
    ...(continuing ? { cursor: outcome.cursor } : {}),
    ...(continuing && outcome.reread ? { reread: outcome.reread } : {}),
    nextMessageSeq: outcome.nextMessageSeq,
    startedAt: state.startedAt,
    counts: outcome.counts,
    peaks,
    budget: budget.counts,
    // The version read: a first segment's continuation sent by another (the worker) reads it, not a newer one.
    ...(source.kind === 's3' && source.etag ? { etag: source.etag } : {}),
  };
}
