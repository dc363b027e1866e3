// The report of one run of the main job: what `--report FILE.json` writes, what the HTML page draws, and what
// `run --retry-from` reads back. `submitted = succeeded + deadLettered + invalid + unfinished` always holds.

/** In-flight work and counters at one moment of a run. The runtime (or the CLI's sampler) produces these. */
export interface ProgressSnapshot {
  /** Tasks the orchestrator runs in-process right now (limit: inline concurrency). */
  readonly inlineInFlight: number;
  /** Worker invocations running right now (limit: worker max concurrency). */
  readonly workersInFlight: number;
  /** Open sockets to the targets right now (limit: max sockets). */
  readonly socketsInFlight: number;
  /** Tasks finished ok so far. */
  readonly done: number;
  /** Tasks that ended for good in failure (dead-lettered or failed inline) so far. */
  readonly failed: number;
  /**
   * Tasks waiting in the queue. From the queue's depth in messages times tasks per message while the runtime
   * gives no count of tasks: an upper estimate (the last message of a job and retries carry fewer).
   */
  readonly queued: number;
}

/** One point of the timeline: a snapshot and its time, in ms since the run started. */
export interface TimelineSample extends ProgressSnapshot {
  readonly t: number;
}

export interface LayerTriple {
  readonly inline: number;
  readonly workers: number;
  readonly sockets: number;
}

/**
 * Peaks: `inline` tasks in the orchestrator; `workers` worker invocations the queue's event source ran at once;
 * `sockets` sockets open at once over every container (sampled, so a lower bound). The rest are details.
 */
export interface ReportPeaks extends LayerTriple {
  /** Worker invocations at once from every source (the queue and the orchestrator's direct invokes). */
  readonly workersAll?: number;
  /** Tasks in flight inside one worker invocation. */
  readonly perInvocation?: number;
  /** Sockets open at once in any one container (exact). */
  readonly socketsPerContainer?: number;
}

/** The limits the run was held to (from the flags and the shared config). */
export interface ReportLimits extends LayerTriple {
  /** `workers` is the event source's maximum concurrency; this is the worker's reserved concurrency. */
  readonly workersReserved?: number;
  readonly perInvocation: number;
  /** `sockets` is what every container together may open (the sum of their caps); this is one container's. */
  readonly socketsPerContainer?: number;
  /** One container's cap to one host. */
  readonly socketsPerHost: number;
  /** The budget's most connections one host can see from the whole run (concurrencyOf(config).perHost). */
  readonly socketsToOneHost?: number;
  readonly tasksPerMessage: number;
  readonly maxReceiveCount: number;
  /** The event source's maximum and the reservation at the end, when `limits` changed them during the run. */
  readonly changedLive?: { readonly workers: number; readonly workersReserved?: number };
}

export interface InvalidTask {
  readonly id?: string;
  readonly line?: number;
  readonly error: string;
}

export interface DeadLetteredTask {
  readonly id: string;
  /** Deliveries of its message (or attempts inline) before it was given up on. */
  readonly attempts: number;
  readonly error: string;
  /** The task as far as it may be shown: secret headers, URL credentials and secret query values and the body
   * redacted (lib/http/redact.ts). `run --retry-from` takes the task itself from the manifest, by id. */
  readonly task?: object;
  /** Its line in the manifest file, when the CLI could find it there. */
  readonly line?: number;
}

/** A task a stopped run left undone: `run --retry-from` runs it with the dead-lettered ones. */
export interface UnfinishedTask {
  readonly id: string;
  readonly line?: number;
  /** Why it did not finish (its message was in the queue, it waited for a retry, it was never read). */
  readonly error: string;
  readonly task?: object;
}

/** Task latencies in buckets: counts[i] counts latencies <= boundsMs[i]; the last count is above every bound. */
export interface LatencyHistogramData {
  readonly boundsMs: readonly number[];
  readonly counts: readonly number[];
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly maxMs: number;
}

export interface RunReport {
  readonly jobId: string;
  readonly runId?: string;
  /**
   * The run's status as the job ledger has it once it ended (succeeded, partial, failed, cancelled,
   * skipped), else the local runtime's (stopped, refused, broken): the same as `bounded-fanout status`.
   */
  readonly status?: string;
  readonly reason?: string;
  readonly submitted: number;
  readonly invalid: number;
  readonly succeeded: number;
  readonly deadLettered: number;
  /** Tasks not started because the run was cancelled or failed. */
  readonly cancelled?: number;
  /** Failed tasks SQS refused even as a lone dead letter (each logged with its error). */
  readonly undeliverable?: number;
  readonly durationMs: number;
  readonly peaks: ReportPeaks;
  readonly limits: ReportLimits;
  readonly invalidTasks: readonly InvalidTask[];
  readonly deadLetteredTasks: readonly DeadLetteredTask[];
  readonly timeline: readonly TimelineSample[];
  /** Task latency distribution (absent when the runtime reported no latencies). */
  readonly latency?: LatencyHistogramData;
  /** Where the tasks came from: a file, an s3:// URL, `demo` or `retry-from:FILE`. */
  readonly manifest?: string;
  /** The manifest file the tasks were read from (absolute; a retry's is its original's), for `--retry-from`. */
  readonly manifestFile?: string;
  /** SHA-256 (hex) of that file's bytes when the run read it: `--retry-from` refuses a changed manifest. */
  readonly manifestSha256?: string;
  /** True when Ctrl-C stopped the run before every task ended: unstarted work is left in the queue. */
  readonly interrupted?: boolean;
  /** Tasks neither succeeded, dead-lettered nor invalid because the run was interrupted. */
  readonly unfinished?: number;
  /** Every unfinished task (in the JSON file only the first ones when `tasksFile` is given). */
  readonly unfinishedTasks?: readonly UnfinishedTask[];
  /** A second Ctrl-C cut the run off: tasks running then are unfinished, and counted so. */
  readonly cutOff?: boolean;
  /**
   * `run --state DIR --resume`: the run a killed process began, finished here. The counts are the whole run's
   * (the job ledger's, kept in DIR); `tasks` were in flight or queued at the kill and were put back: at most
   * they ran twice (in `task` idempotency mode none that had completed ran again). `startedAt` is the first
   * process's start.
   */
  readonly resumed?: {
    readonly startedAt: string;
    /** The worker's idempotency mode: in `task` mode a task that had completed is found so, not sent again. */
    readonly idempotency: string;
    readonly messages: number;
    readonly tasks: number;
    readonly inProgressCleared: number;
    /**
     * Messages open at the kill that the job ledger had settled (their delivery died after its settle): none of
     * their tasks ran again, and they are not in `tasks`. Absent from reports of earlier versions.
     */
    readonly settled?: number;
    /**
     * The process died inside the orchestrator's first segment, which the resume ran again: `inline` is its
     * inline tasks, run again (those the killed one ran among them), `invoked` its invoke tasks (the
     * orchestrator's own calls of the worker) likewise, both counted in `tasks` too. `invoked` is absent from
     * reports of earlier versions.
     */
    readonly reread?: { readonly segments: number; readonly inline: number; readonly invoked?: number };
  };
  /**
   * NDJSON file beside the JSON report (a name in the same folder) holding every dead-lettered and unfinished
   * task, one per line with `kind`, when there are more than the JSON file lists.
   */
  readonly tasksFile?: string;
  /** The demo target server's own count, to compare with `peaks.sockets`. */
  readonly target?: {
    readonly peakSockets: number;
    readonly peakInFlight: number;
    readonly requests: number;
  };
  /**
   * Where the timeline's inline series was counted: by the runtime, by the demo's target server (requests of
   * inline tasks in flight on its side), or nowhere (the runtime reports only the peak; the chart is left out).
   */
  readonly inlineInFlightSource?: 'runtime' | 'target' | 'none';
  /** Where the latency distribution was measured: each task's attempts (`tasks`) or the demo server (`target`). */
  readonly latencySource?: 'tasks' | 'target';
  /** The local runtime's view of the run: status, backend, orchestrator and worker counts. */
  readonly runtime?: Readonly<Record<string, unknown>>;
  readonly startedAt?: string;
}

/**
 * A report built from the job ledger and the result object (`report --job`): a run in AWS leaves no local
 * observations, so it has no peaks (and an empty timeline). Writers and the HTML page take either kind.
 */
export type LedgerRunReport = Omit<RunReport, 'peaks'> & { readonly peaks?: undefined };
export type AnyRunReport = RunReport | LedgerRunReport;
