// The job ledger's record of one run: its status, its counts and the operator's overrides. The same shape
// in DynamoDB (lib/aws/job-ledger-table.ts), in `bounded-fanout status --format json` and in a local run's
// report, so a run reads the same wherever it ran.

export const RunStatuses = {
  RUNNING: 'running',
  PAUSED: 'paused',
  /** Finished; every task succeeded. */
  SUCCEEDED: 'succeeded',
  /** Finished; some tasks invalid or dead-lettered, within the failure budget. */
  PARTIAL: 'partial',
  /** The failure budget was exceeded or the run broke: `reason` says which. */
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  /** Not started: the job's previous run was still running and `schedule.overlap` is `forbid`. */
  SKIPPED: 'skipped',
} as const;
export type RunStatus = (typeof RunStatuses)[keyof typeof RunStatuses];

/** Statuses in which a run's tasks may still start (paused: none start, but the run is not over). */
export const LIVE_STATUSES: readonly RunStatus[] = [RunStatuses.RUNNING, RunStatuses.PAUSED];

/** Why a run failed or stopped, in `reason`. */
export const RunReasons = {
  FAILURE_BUDGET: 'failure-budget',
  MANIFEST_ERROR: 'manifest-error',
  /** Some failed tasks could be neither retried nor dead-lettered (SQS refused them): each is logged. */
  UNDELIVERABLE: 'undeliverable',
  CANCELLED_BY_OPERATOR: 'cancelled',
  /** A newer scheduled run replaced it (`schedule.overlap: replace`). */
  REPLACED: 'replaced',
  /** The previous run was still running (`schedule.overlap: forbid`). */
  OVERLAP: 'overlap',
  /**
   * A segment of the orchestrator failed its every attempt (Lambda's on-failure destination says so): the
   * manifest is read no further, and `brokenSegment` names the segment.
   */
  ORCHESTRATOR_FAILED: 'orchestrator-failed',
} as const;
export type RunReason = (typeof RunReasons)[keyof typeof RunReasons];

/**
 * What a run's tasks came to. Every task read from the manifest is `submitted` once, and ends once in
 * exactly one of the others, so a finished run has
 * `succeeded + deadLettered + undeliverable + invalid + cancelled = submitted`.
 */
export interface RunCounts {
  readonly submitted: number;
  readonly succeeded: number;
  readonly deadLettered: number;
  /** Failed tasks SQS refused even as a lone dead letter: logged and in the result object, never dropped. */
  readonly undeliverable: number;
  readonly invalid: number;
  /** Not started because the run was cancelled or failed (their messages deleted, not dead-lettered). */
  readonly cancelled: number;
}

export const COUNT_NAMES = [
  'submitted',
  'succeeded',
  'deadLettered',
  'undeliverable',
  'invalid',
  'cancelled',
] as const satisfies readonly (keyof RunCounts)[];

export type CountDelta = Partial<RunCounts>;

/**
 * Per-run limit overrides set while it runs (`bounded-fanout limits`): each only lowers what the budget
 * proved at synth, never raises it (checked by lib/ledger/run-limits.ts before it is written).
 */
export interface RunLimits {
  readonly perInvocationConcurrency?: number;
  readonly inlineConcurrency?: number;
  /** Per downstream host (a key of the config's `downstream`). */
  readonly downstream?: Readonly<
    Record<string, { readonly maxConcurrency?: number; readonly maxRequestsPerSecond?: number }>
  >;
}

/**
 * How an orchestrator segment ended in failure: its manifest broke, or its own outcomes tripped the failure
 * budget. Written by the segment's settle in the same transaction as its marker, so only the copy whose settle
 * counts can fail the run (a losing copy's view is not the run's); lib/ledger/after-settle.ts then sets the
 * status (or reason) the fleet follows, and finalStatus ends the run by it.
 */
export interface SegmentFailure {
  readonly reason: typeof RunReasons.MANIFEST_ERROR | typeof RunReasons.FAILURE_BUDGET;
  readonly detail?: string;
}

export interface RunRecord extends RunCounts {
  readonly jobId: string;
  readonly runId: string;
  readonly status: RunStatus;
  readonly reason?: RunReason;
  /** Free text for `reason`: the manifest's fault, the budget's figures. */
  readonly detail?: string;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  /** Set once, by whoever ended the run (lib/ledger/run-rules.ts isComplete). */
  readonly finishedAt?: number;
  /** The manifest has been read to its end, or reading stopped for good: `submitted` will not grow. */
  readonly manifestDone: boolean;
  readonly toleratedFailurePercent: number;
  /** `s3://bucket/key` of the result object, once written. */
  readonly resultUri?: string;
  /**
   * Epoch ms at which the result object and the Run Finished event of an ended run were both written. An
   * ended run without it lost them (its writer died, or a write failed): the job's next run writes them.
   */
  readonly announcedAt?: number;
  readonly limits?: RunLimits;
  /**
   * The orchestrator segment that failed its every attempt (reason `orchestrator-failed`): it never settled, so
   * the tasks it sent to the queue were never counted `submitted`. The workers count what they settle of each
   * segment's messages apart, and a broken segment's part of that is `adopted`, already in `submitted` here:
   * the run still ends when every task anyone counted has ended (lib/aws/segment-tallies.ts).
   */
  readonly brokenSegment?: number;
  /** Tasks of `brokenSegment` the workers settled, counted in `submitted` (see above). */
  readonly adopted?: number;
  /** The failure the settle that counted of an orchestrator segment reported (the first one kept). */
  readonly segmentFailure?: SegmentFailure;
  /** Bumped by every change of status or limits: containers cache the record and compare it. */
  readonly version: number;
}

export const zeroCounts = (): RunCounts => ({
  submitted: 0,
  succeeded: 0,
  deadLettered: 0,
  undeliverable: 0,
  invalid: 0,
  cancelled: 0,
});
