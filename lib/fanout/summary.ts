// The one summary of a job, built across the invocations (segments) of the orchestrator: the counts it
// carries in its continuation, logged and written to the results object at the end.

export interface JobCounts {
  /** Task entries read from the manifest, valid or not. */
  read: number;
  invalid: number;
  inlineSucceeded: number;
  inlineFailed: number;
  /**
   * Tasks sent to the work queue, in `messages` messages through `batches` SendMessageBatch calls: queue tasks,
   * and invoke tasks a paused run left unstarted (lib/fanout/invoke-chunk.ts).
   */
  enqueued: number;
  messages: number;
  batches: number;
  invokeSucceeded: number;
  invokeFailed: number;
  /** Synchronous Invoke calls of the worker. */
  invokeCalls: number;
  /** Tasks the orchestrator sent to the DLQ: failed inline or invoked, or not enqueued after retries. */
  deadLettered: number;
  /** Tasks that could be neither run, enqueued nor dead-lettered: each is logged with its error. */
  undeliverable: number;
  /** Invoked tasks the worker did not start because the run was cancelled or failed (the job ledger). */
  cancelled: number;
}

export interface JobPeaks {
  /** In-flight inline tasks, SendMessageBatch calls and Invoke calls at their highest. */
  inline: number;
  enqueue: number;
  invoke: number;
}

export const StopReasons = {
  COMPLETE: 'complete',
  DEADLINE: 'deadline',
  FAILURE_BUDGET: 'failure-budget',
  /** The manifest broke after some of its tasks were read: those ran; the job failed. */
  MANIFEST_ERROR: 'manifest-error',
  /** The job ledger says the run was cancelled: reading stopped. */
  CANCELLED: 'cancelled',
} as const;
export type StopReason = (typeof StopReasons)[keyof typeof StopReasons];

export interface JobSummary {
  readonly jobId: string;
  readonly runId: string;
  readonly status: 'succeeded' | 'failed' | 'cancelled';
  /** Why it ended: all tasks handled, the failure budget tripped, or the manifest broke. */
  readonly reason: StopReason;
  /** The manifest's fault, when `reason` is `manifest-error`: `tasks: appears twice`. */
  readonly error?: string;
  /** Index of the first task not started when the job stopped early; absent when complete. */
  readonly stoppedAtTask?: number;
  readonly segments: number;
  readonly durationMs: number;
  readonly counts: JobCounts;
  readonly peaks: JobPeaks;
  readonly toleratedFailurePercent: number;
}

export const emptyCounts = (): JobCounts => ({
  read: 0,
  invalid: 0,
  inlineSucceeded: 0,
  inlineFailed: 0,
  enqueued: 0,
  messages: 0,
  batches: 0,
  invokeSucceeded: 0,
  invokeFailed: 0,
  invokeCalls: 0,
  deadLettered: 0,
  undeliverable: 0,
  cancelled: 0,
});

export const emptyPeaks = (): JobPeaks => ({ inline: 0, enqueue: 0, invoke: 0 });

export function maxPeaks(a: JobPeaks, b: JobPeaks): JobPeaks {
  return {
    inline: Math.max(a.inline, b.inline),
    enqueue: Math.max(a.enqueue, b.enqueue),
    invoke: Math.max(a.invoke, b.invoke),
  };
}
