// What a local job's report holds (LocalJobReport) and what it is built from (ReportInputs): the shapes shared by
// local/job-report.ts, which builds it, and the CLI and the report writers, which read it.

import type { FanoutConfig } from '../lib/config.js';
import type { JobSummary, StopReason } from '../lib/fanout/summary.js';
import type { RunReason, RunRecord, RunStatus } from '../lib/ledger/run-record.js';
import type { JobTask } from '../lib/manifest/schema.js';
import type { BackendInfo } from './backend.js';
import type { DeadLetterCount, DeadLetteredTask } from './dead-letters.js';
import type { FunctionLogs } from './function-logs.js';
import type { LocalFunction } from './local-function.js';
import type { ManifestTail } from './manifest-tail.js';
import type { PollerStats } from './poller.js';
import type { LatencyHistogramData } from './report/types.js';
import type { LocalResources } from './resources.js';
import type { ResumeCounts } from './run-resume.js';
import type { TaskLedger } from './task-ledger.js';

export type FinalResult =
  | { readonly status: 'succeeded' | 'failed'; readonly summary: JobSummary; readonly resultKey?: string }
  | { readonly status: 'refused'; readonly error: string; readonly field: string };

export interface OrchestratorOutcome {
  readonly jobId?: string;
  readonly runId?: string;
  /** The invocation that ended the job (undefined when none did: the job broke or was cut short). */
  readonly final?: FinalResult;
  readonly invocations: number;
  readonly continuations: number;
  /** Deliveries that found their segment already run (an asynchronous event delivered twice). */
  readonly duplicates: number;
  /** Invocations that failed for good (after Lambda's retries of asynchronous ones). */
  readonly errors: readonly string[];
}

export interface InvalidTaskEntry {
  readonly id?: string;
  readonly index?: number;
  readonly line?: number;
  readonly error: string;
}

/** A task a stopped run left undone: in the work queue, cut off in flight, or not read from the manifest. */
export interface UnfinishedTask {
  readonly id: string;
  /** Its line in the manifest, when known (tasks the run never read). */
  readonly line?: number;
  /** Why it is unfinished (the last error of a task waiting for a retry is not kept in its message). */
  readonly error: string;
  readonly task: JobTask;
}

export const UnfinishedReasons = {
  QUEUED: 'not finished: its message was in the work queue (unstarted or in flight) when the run stopped',
  RETRY: 'not finished: it had failed and was waiting in the work queue for another attempt',
  UNREAD: 'not read: the orchestrator had not reached it when the run stopped',
} as const;

export interface LocalJobReport {
  readonly jobId: string;
  readonly runId?: string;
  /**
   * A resumed run (`run --state DIR --resume`): the killed process's open messages put back, whose tasks (in
   * flight or queued at the kill) may run a second time unless idempotency finds them completed.
   */
  readonly resumed?: ResumeCounts;
  /**
   * The job ledger's status of the run once it ended (succeeded, partial, failed, cancelled, skipped);
   * otherwise the local runtime's: `stopped` (stopped before the orchestrator read the whole manifest),
   * `refused`, `broken`, or the orchestrator's own when no ledger was kept.
   */
  readonly status: RunStatus | 'refused' | 'stopped' | 'broken';
  /** Why it ended: the ledger's reason, or why the orchestrator stopped (or an error for refused and broken jobs). */
  readonly reason?: StopReason | RunReason;
  /** The ledger's words on the reason, once the run ended: the budget's figures, the broken segment and its error. */
  readonly detail?: string;
  readonly error?: string;
  /** Tasks read from the manifest; the rest of the sums below are counted, not derived. */
  readonly submitted: number;
  readonly invalid: number;
  readonly succeeded: number;
  readonly deadLettered: number;
  /** Tasks not started because the run was cancelled or failed (the ledger's count). */
  readonly cancelled: number;
  /** Failed tasks SQS refused even as a lone dead letter (the ledger's count; each is logged). */
  readonly undeliverable: number;
  /** Tasks a stopped run left undone (listed in `unfinishedTasks`). */
  readonly unfinished: number;
  /**
   * submitted - succeeded - deadLettered - undeliverable - invalid - cancelled - unfinished: zero when every
   * task is accounted for.
   */
  readonly unaccounted: number;
  /** Tasks of an inline manifest never read because the job stopped early (failure budget). */
  readonly notStarted?: number;
  readonly durationMs: number;
  readonly peaks: {
    readonly inline: number;
    readonly enqueue: number;
    readonly invoke: number;
    /** Worker invocations at once, from the poller and direct Invokes together (hard cap: reserved). */
    readonly workers: number;
    /** Worker invocations at once started by the event-source poller (cap: workerMaxConcurrency). */
    readonly pollerWorkers: number;
    /** Tasks in flight inside one worker invocation (the worker's PeakInFlight metric). */
    readonly perInvocation: number;
    /** Sockets open at once over all containers (sampled every few ms: a lower bound). */
    readonly sockets: number;
    /** Sockets open at once in any one container (exact). */
    readonly socketsPerContainer: number;
  };
  readonly limits: {
    readonly inline: number;
    readonly enqueue: number;
    readonly invoke: number;
    readonly workers: number;
    /** The worker's reserved concurrency; undefined when it has none ("none"). */
    readonly workerReserved: number | undefined;
    readonly perInvocation: number;
    /** Per container (each has its own agents, as each Lambda sandbox does). */
    readonly sockets: number;
    readonly socketsPerHost: number;
    readonly tasksPerMessage: number;
    readonly maxReceiveCount: number;
    readonly batchSize: number;
    /**
     * The worker's settings at the end when `limits` changed them during the run (local/lambda-control.ts):
     * `workers` and `workerReserved` above are the deployed ones, and the peaks span the whole run.
     */
    readonly changedLive?: WorkerSettingsNow;
  };
  readonly invalidTasks: readonly InvalidTaskEntry[];
  readonly deadLetteredTasks: readonly DeadLetteredTask[];
  /** Every unfinished task, each id once. */
  readonly unfinishedTasks: readonly UnfinishedTask[];
  readonly deadLetters: Omit<DeadLetterCount, 'listed'>;
  readonly orchestrator: Omit<OrchestratorOutcome, 'final' | 'jobId' | 'runId'> & {
    readonly segments?: number;
  };
  readonly worker: {
    readonly invocations: number;
    readonly errors: number;
    readonly throttles: number;
    readonly containers: number;
    readonly duplicates: number;
    readonly retried: number;
    /** Tasks the worker had no time to start, handed on in new messages with their attempt unspent. */
    readonly handedOn: number;
    readonly invalidMessages: number;
  };
  readonly poller: PollerStats;
  readonly backend: BackendInfo['kind'];
  readonly interrupted: boolean;
  /** A second Ctrl-C let go of the running invocations: their tasks are unfinished, their successes uncounted. */
  readonly cutOff?: boolean;
  readonly resultKey?: string;
  readonly summary?: JobSummary;
  /** The functions' last error log lines. */
  readonly functionErrors: readonly string[];
  /** Response times of the tasks' HTTP attempts, seen on undici's diagnostics channels (local/http-observer.ts). */
  readonly latency: LatencyHistogramData;
}

/** The event source's maximum and the worker's reservation (undefined: none) as they are now. */
export interface WorkerSettingsNow {
  readonly workers: number;
  readonly workerReserved: number | undefined;
}

export interface ReportInputs {
  readonly config: FanoutConfig;
  readonly jobEvent: unknown;
  readonly backend: BackendInfo;
  readonly started: number;
  readonly interrupted: boolean;
  readonly outcome: OrchestratorOutcome;
  readonly deadLetters: DeadLetterCount;
  readonly logs: FunctionLogs;
  readonly worker: LocalFunction;
  readonly pollerStats: PollerStats;
  readonly sockets: { readonly total: number; readonly perContainer: number };
  readonly resources: LocalResources;
  readonly latency: LatencyHistogramData;
  /** Task messages sent to the work queue and not settled. */
  readonly ledger: TaskLedger;
  /** The manifest's unread tasks, when the orchestrator's continuation was kept. */
  readonly tail?: ManifestTail;
  readonly cutOff?: boolean;
  /** The worker's settings at the end of the run (the control plane may have changed them). */
  readonly workerSettings?: WorkerSettingsNow;
  /** The run's record in the job ledger, read after the run: its status and counts are the report's. */
  readonly run?: RunRecord;
}
