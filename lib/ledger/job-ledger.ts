// The job ledger as the functions, the local runtime and the CLI see it: a port with no AWS in it. The
// DynamoDB store (lib/aws/job-ledger-table.ts) implements it on the stack's job table, in AWS, LocalStack
// and the local emulators alike.
import type { OverlapPolicy } from '../config.js';
import type { CountDelta, RunLimits, RunReason, RunRecord, RunStatus, SegmentFailure } from './run-record.js';
import type { Ending, OverlapAction } from './run-rules.js';

export interface StartRunInput {
  readonly jobId: string;
  readonly runId: string;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly toleratedFailurePercent: number;
  readonly overlap: OverlapPolicy;
}

export interface StartRunResult {
  /**
   * `start`: this run's record is running (created now, or found: a retried first segment gets the same
   * answer); `replace`: likewise, and `previous` was cancelled for it; `skip`: this run is recorded `skipped`
   * and must start nothing, `previous` is still running.
   */
  readonly action: OverlapAction;
  readonly record: RunRecord;
  readonly previous?: RunRecord;
}

export interface SettleInput {
  readonly jobId: string;
  readonly runId: string;
  /**
   * Unique per unit of settled work, and the same for every delivery of it: the SQS message's key, the
   * orchestrator's `segment:<n>`, the invoke chunk's key. A key already settled is not counted again.
   */
  readonly key: string;
  readonly delta: CountDelta;
  /** Reading the manifest has ended (its end, or a stop for good): `submitted` is final. */
  readonly manifestDone?: boolean;
  /**
   * Kept with the key's marker when this settle is the first (an orchestrator segment's end: where the job
   * goes on); JobLedger.settledState reads it back.
   */
  readonly state?: Readonly<Record<string, unknown>>;
  /**
   * The run record's `version` as the settler last saw it (its cached status and limits: RunControl). A settle
   * that goes unread then also holds only while the record's version is still this, and says so
   * (SettleResult.confirmed): the settler's copy of the status and limits is current, as a read would say.
   */
  readonly seenVersion?: number;
  /**
   * The orchestrator segment whose queued tasks these are (TaskMessage.segment), for a worker's settle: the
   * store tallies what each segment's messages settled, which counts them `submitted` if that segment breaks
   * (RunRecord.brokenSegment). None for the orchestrator's own settles.
   */
  readonly segment?: number;
  /**
   * An orchestrator segment's failure (its manifest broke, or its own outcomes tripped the budget): kept on the
   * record only if this settle is the key's first, in the same transaction (RunRecord.segmentFailure).
   */
  readonly failure?: SegmentFailure;
}

/** An orchestrator segment that failed its every attempt, as Lambda's on-failure destination reports it. */
export interface BreakInput {
  readonly jobId: string;
  readonly runId: string;
  readonly segment: number;
  /** Why, for the record's `detail`: the segment, where in the manifest it began, and the last error. */
  readonly detail: string;
}

export interface SettleResult {
  /** False when `key` had been settled before: nothing was added. */
  readonly applied: boolean;
  /** The record after the write (read strongly consistent), undefined when the run has no record or `unread`. */
  readonly record: RunRecord | undefined;
  /**
   * The record was not read: the settle added no failure, did not end the manifest, and its write held only
   * if the run was not complete after it, so there was nothing to judge. The settle that completes a run is
   * always read.
   */
  readonly unread?: boolean;
  /** Unread, and the record's version was this (the settle's seenVersion) when the settle was written. */
  readonly confirmed?: number;
}

export interface StatusChange {
  readonly status: RunStatus;
  readonly reason?: RunReason;
  readonly detail?: string;
  /** The change is made only from one of these statuses. */
  readonly from: readonly RunStatus[];
}

export interface StatusChangeResult {
  readonly changed: boolean;
  /** The record after the change, or as it stands when it was not made; undefined when there is no run. */
  readonly record: RunRecord | undefined;
}

export interface JobLedger {
  /** Records a new run under the overlap policy: exactly one of two runs racing for one job wins `forbid`. */
  startRun(input: StartRunInput): Promise<StartRunResult>;
  /** Adds counts once per key: one atomic write for the counts and the key's marker. */
  settle(input: SettleInput): Promise<SettleResult>;
  /** The `state` the first settle of `key` kept; undefined when the key is not settled or kept none. */
  settledState(jobId: string, runId: string, key: string): Promise<unknown>;
  /** Whether `key` is settled, with the `state` its first settle kept; undefined when it is not settled. */
  settledMarker(jobId: string, runId: string, key: string): Promise<{ readonly state?: unknown } | undefined>;
  /** One run; without `runId`, the job's latest. Strongly consistent. */
  getRun(jobId: string, runId?: string): Promise<RunRecord | undefined>;
  /** The job's runs, newest first. */
  listRuns(jobId: string, options?: { readonly limit?: number }): Promise<RunRecord[]>;
  setStatus(jobId: string, runId: string, change: StatusChange): Promise<StatusChangeResult>;
  /**
   * Replaces the run's limit overrides (already checked against the budget by the caller): the record after it,
   * or undefined when there is no such run, it has ended, or `expectedVersion` is given and the record is no
   * longer at it (a change landed since the caller read the overrides it merged over).
   */
  setLimits(
    jobId: string,
    runId: string,
    limits: RunLimits,
    expectedVersion?: number,
  ): Promise<RunRecord | undefined>;
  /**
   * Ends a complete run exactly once: the write succeeds only if the run is not finished and its counts
   * are still those of `record` (isComplete(record) must hold). Undefined when another writer ended it.
   */
  finish(record: RunRecord, ending: Ending, resultUri?: string): Promise<RunRecord | undefined>;
  /** Notes that an ended run's result object and event are written (`announcedAt`); false if already noted. */
  markAnnounced(record: RunRecord): Promise<boolean>;
  /**
   * Records that the orchestrator broke at `segment`: the manifest is read no further and the segment's settled
   * queued tasks count `submitted` (RunRecord.brokenSegment). A live run fails with reason
   * `orchestrator-failed`; a failed or cancelled one keeps its status and reason. Once per run, and only while
   * its manifest is still being read: the record after the write, or undefined when it was not made (no run,
   * already broken, finished, or its manifest already read to its end).
   */
  breakRun(input: BreakInput): Promise<RunRecord | undefined>;
}
