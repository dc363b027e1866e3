import type { SQSRecord } from 'aws-lambda';
import type { FanoutConfig } from '../lib/config.js';
import type { BackendInfo, BackendKind } from './backend.js';
import type { LogSink } from './function-logs.js';
import type { LocalProgress } from './job-sampler.js';
import type { LambdaHandler } from './local-function.js';
import type { JournalState, QueueJournal } from './queue-journal.js';

// The options of runLocalJob (local/run-local-job.ts): what a local run may be given, and the faults a test
// may inject.

export interface RunLocalJobFaults {
  /** Deliver each asynchronous invocation (the orchestrator's continuations) this many times. */
  readonly asyncDeliveries?: number;
  /** Lose the delete of a processed message (it is redelivered after the visibility timeout). */
  readonly loseDelete?: (record: SQSRecord) => boolean;
  /** Wrap each worker container's handler (to make it throw mid-batch, say). */
  readonly wrapWorker?: (handler: LambdaHandler) => LambdaHandler;
  /** Wrap each orchestrator container's handler (to make a segment fail every attempt, say). */
  readonly wrapOrchestrator?: (handler: LambdaHandler) => LambdaHandler;
}

export interface RunLocalJobOptions {
  /** The shared config (defaults fill the rest): limits, names, queue settings. */
  readonly config?: Partial<FanoutConfig>;
  /** A backend already started (its endpoints are used as they are), or the kind to start for this job. */
  readonly backend?: BackendInfo | BackendKind;
  /** Invocation timeouts, when not the config's whole seconds (tests force deadlines with these). */
  readonly orchestratorTimeoutMs?: number;
  readonly workerTimeoutMs?: number;
  readonly faults?: RunLocalJobFaults;
  /**
   * Where the worker's containers run: `inline` in this process (the default), or `threads`, each container on
   * its own worker thread (own modules, heap and event loop: local/thread-container.ts).
   */
  readonly containers?: 'inline' | 'threads';
  /** The functions' own log lines: dropped by default (their EMF metrics are read either way). */
  readonly functionLogs?: LogSink;
  readonly onProgress?: (progress: LocalProgress) => void;
  /** Sees every batch the poller receives, before the worker does (tracing, tests). */
  readonly onReceive?: (records: readonly SQSRecord[]) => void;
  readonly progressIntervalMs?: number;
  /**
   * Stops the run: no receive starts, the orchestrator reads no further (its continuation is kept, not run),
   * running invocations finish. Unfinished work stays in the queue, and the report lists it (`unfinishedTasks`).
   */
  readonly signal?: AbortSignal;
  /**
   * Cuts a stopping run off: the running invocations are let go of (their results ignored, their messages left
   * in the queue) and the report is built at once from what had ended. Their tasks are listed as unfinished.
   */
  readonly cutOff?: AbortSignal;
  /** Upper bound on the whole run; past it the report says `interrupted`. 10 minutes by default. */
  readonly timeoutMs?: number;
  /** Where the backend choice is printed. */
  readonly log?: (line: string) => void;
  /**
   * About how many tasks the local work queue may hold before the orchestrator's sends wait for the workers
   * (the emulator keeps the backlog in this process's memory). 50,000 by default.
   */
  readonly maxQueuedTasks?: number;
  /**
   * Keep the job ledger (default true): false leaves the functions without a job table, so the report's
   * counts come from the runtime's own observations (bench/pipeline.ts measures the ledger's cost with it).
   */
  readonly ledger?: boolean;
  /**
   * `run --state DIR`: the work queue's journal on disk; with `resume`, what the killed run left (its
   * orchestrator's result and its open messages), put back instead of invoking the orchestrator again.
   */
  readonly state?: { readonly journal: QueueJournal; readonly resume?: ResumeFrom };
}

/**
 * A killed run to finish: its orchestrator had returned (the journal holds its result, `first`), or it died
 * inside its first segment (`started` without `first`): then the segment is run again under that request id
 * (local/segment-reread.ts).
 */
export interface ResumeFrom extends JournalState {}
