// The report of one local job, built from what the functions did: the orchestrator's final summary, the
// worker's EMF metrics, the dead-letter queue, the invalid tasks in the result object, and the local
// runtime's own counts of invocations and sockets.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type FanoutConfig, reservationOf } from '../lib/config.js';
import type { JobCounts, JobSummary, StopReason } from '../lib/fanout/summary.js';
import type { RunReason, RunRecord, RunStatus } from '../lib/ledger/run-record.js';
import type { JobTask } from '../lib/manifest/schema.js';
import type { BackendInfo } from './backend.js';
import { type DeadLetterCount, type DeadLetteredTask, MAX_LISTED } from './dead-letters.js';
import type { FunctionLogs } from './function-logs.js';
import type { LocalFunction } from './local-function.js';
import type { ManifestTail } from './manifest-tail.js';
import type { PollerStats } from './poller.js';
import type { LatencyHistogramData } from './report/types.js';
import { type LocalResources, localCredentials } from './resources.js';
import type { TaskLedger } from './task-ledger.js';

type FinalResult =
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
   * The job ledger's status of the run once it ended (succeeded, partial, failed, cancelled, skipped);
   * otherwise the local runtime's: `stopped` (stopped before the orchestrator read the whole manifest),
   * `refused`, `broken`, or the orchestrator's own when no ledger was kept.
   */
  readonly status: RunStatus | 'refused' | 'stopped' | 'broken';
  /** Why it ended: the ledger's reason, or why the orchestrator stopped (or an error for refused and broken jobs). */
  readonly reason?: StopReason | RunReason;
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
  /** The run's record in the job ledger, read after the run: its status and counts are the report's. */
  readonly run?: RunRecord;
}

const WORKER = 'worker';

export async function buildReport(inputs: ReportInputs): Promise<LocalJobReport> {
  const { config, jobEvent, outcome, deadLetters, logs, worker, pollerStats, sockets } = inputs;
  const final = outcome.final;
  const summary = final && final.status !== 'refused' ? final.summary : undefined;
  const tail = summary ? undefined : inputs.tail;
  // A stopped job has no summary: its counts are the kept continuation's, up to where reading stopped.
  const counts: Partial<JobCounts> | undefined = summary?.counts ?? tail?.continuation.counts;
  const workerSucceeded = logs.metric(WORKER, 'TasksSucceeded');
  const unread = (tail?.valid.length ?? 0) + (tail?.invalid.length ?? 0);
  const submitted = (inputs.run ? inputs.run.submitted : (counts?.read ?? 0)) + unread;
  const invalid = (inputs.run ? inputs.run.invalid : (counts?.invalid ?? 0)) + (tail?.invalid.length ?? 0);
  const { run } = inputs;
  // With the ledger, its counts are the run's (each task counted once, by the function that ended it); the
  // local observations (metrics, the DLQ's content) count only without it.
  const succeeded = run
    ? run.succeeded
    : (counts?.inlineSucceeded ?? 0) + (counts?.invokeSucceeded ?? 0) + workerSucceeded;
  const deadLettered = run ? run.deadLettered : deadLetters.tasks;
  const cancelled = run?.cancelled ?? 0;
  const undeliverable = run?.undeliverable ?? 0;
  const unfinishedTasks = unfinishedOf(inputs, tail);
  const header = (isObject(jobEvent) ? jobEvent : {}) as { tasks?: unknown; limits?: Record<string, number> };
  const notStarted =
    summary?.stoppedAtTask !== undefined && Array.isArray(header.tasks)
      ? header.tasks.length - submitted
      : undefined;
  const { listed, ...deadLetterCounts } = deadLetters;
  const ended = run?.finishedAt !== undefined ? run : undefined;
  const status = ended ? ended.status : final ? final.status : tail ? 'stopped' : 'broken';
  const reason = ended ? ended.reason : summary?.reason;
  return {
    jobId: outcome.jobId ?? summary?.jobId ?? String((header as { jobId?: unknown }).jobId ?? ''),
    ...(outcome.runId ? { runId: outcome.runId } : {}),
    status,
    ...(reason ? { reason } : {}),
    ...(final?.status === 'refused' ? { error: final.error } : {}),
    ...(summary?.error ? { error: summary.error } : {}),
    ...(!final && outcome.errors.length > 0 ? { error: outcome.errors.join('; ') } : {}),
    submitted,
    invalid,
    succeeded,
    deadLettered,
    cancelled,
    undeliverable,
    unfinished: unfinishedTasks.length,
    unaccounted:
      submitted - succeeded - deadLettered - undeliverable - invalid - cancelled - unfinishedTasks.length,
    ...(notStarted !== undefined ? { notStarted } : {}),
    durationMs: Date.now() - inputs.started,
    peaks: {
      inline: summary?.peaks.inline ?? 0,
      enqueue: summary?.peaks.enqueue ?? 0,
      invoke: summary?.peaks.invoke ?? 0,
      workers: worker.peakInFlight,
      pollerWorkers: pollerStats.peakInvocations,
      perInvocation: logs.metric(WORKER, 'PeakInFlight'),
      sockets: sockets.total,
      socketsPerContainer: sockets.perContainer,
    },
    limits: {
      inline: lower(header.limits?.inline, config.inlineConcurrency),
      enqueue: lower(header.limits?.enqueue, config.enqueueConcurrency),
      invoke: lower(header.limits?.invoke, config.invokeConcurrency),
      workers: config.workerMaxConcurrency,
      workerReserved: reservationOf(config.workerReservedConcurrency),
      perInvocation: config.perInvocationConcurrency,
      sockets: config.maxSockets,
      socketsPerHost: config.maxSocketsPerHost,
      tasksPerMessage: header.limits?.tasksPerMessage ?? config.tasksPerMessage,
      maxReceiveCount: config.maxReceiveCount,
      batchSize: config.batchSize,
    },
    invalidTasks: summary
      ? await readInvalidTasks(inputs, resultKeyOf(inputs, final as { resultKey?: string }))
      : [...(tail?.invalid ?? [])],
    deadLetteredTasks: listed,
    unfinishedTasks,
    deadLetters: deadLetterCounts,
    orchestrator: {
      invocations: outcome.invocations,
      continuations: outcome.continuations,
      duplicates: outcome.duplicates,
      errors: outcome.errors,
      ...(summary ? { segments: summary.segments } : {}),
    },
    worker: {
      invocations: worker.stats.invocations,
      errors: worker.stats.errors,
      throttles: worker.stats.throttles,
      containers: worker.stats.containers,
      duplicates: logs.metric(WORKER, 'TasksDuplicate'),
      retried: logs.metric(WORKER, 'TasksRetried'),
      handedOn: logs.metric(WORKER, 'TasksHandedOn'),
      invalidMessages: logs.metric(WORKER, 'MessagesInvalid'),
    },
    poller: pollerStats,
    backend: inputs.backend.kind,
    interrupted: inputs.interrupted,
    ...(inputs.cutOff ? { cutOff: true } : {}),
    ...(final && 'resultKey' in final && final.resultKey ? { resultKey: final.resultKey } : {}),
    ...(summary ? { summary } : {}),
    functionErrors: logs.errors,
    latency: inputs.latency,
  };
}

/** The open messages' tasks (less the dead-lettered ones, ended for good), then the unread ones. */
function unfinishedOf(inputs: ReportInputs, tail: ManifestTail | undefined): UnfinishedTask[] {
  const dead = new Set(inputs.deadLetters.listed.map((t) => t.id));
  const out: UnfinishedTask[] = [];
  for (const { task, attempt } of inputs.ledger.tasks(inputs.outcome, dead)) {
    out.push({ id: task.id, error: attempt > 1 ? UnfinishedReasons.RETRY : UnfinishedReasons.QUEUED, task });
  }
  for (const { task, line } of tail?.valid ?? []) {
    out.push({ id: task.id, ...(line === undefined ? {} : { line }), error: UnfinishedReasons.UNREAD, task });
  }
  return out;
}

/** Job limits can only lower the deployed ones (as the orchestrator applies them). */
const lower = (asked: number | undefined, cap: number) =>
  typeof asked === 'number' ? Math.min(asked, cap) : cap;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The invalid tasks the orchestrator wrote to the result object (the first MAX_LISTED). */
/** The result object's key: the ledger's URI (whoever ended the run wrote it), or the orchestrator's. */
function resultKeyOf(inputs: ReportInputs, final: { resultKey?: string }): { resultKey?: string } {
  const uri = inputs.run?.resultUri;
  const prefix = `s3://${inputs.resources.bucket}/`;
  return uri?.startsWith(prefix) ? { resultKey: uri.slice(prefix.length) } : final;
}

async function readInvalidTasks(
  inputs: ReportInputs,
  final: { resultKey?: string },
): Promise<InvalidTaskEntry[]> {
  if (!final.resultKey) return [];
  const { endpoints, region } = inputs.backend;
  const s3 = new S3Client({
    endpoint: endpoints.s3,
    region,
    credentials: localCredentials,
    forcePathStyle: true,
  });
  const found: InvalidTaskEntry[] = [];
  try {
    const out = await s3.send(
      new GetObjectCommand({ Bucket: inputs.resources.bucket, Key: final.resultKey }),
    );
    const lines = createInterface({ input: out.Body as Readable, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (!line.includes('"invalid"')) continue;
      const record = JSON.parse(line) as { type?: string } & InvalidTaskEntry;
      if (record.type !== 'invalid') continue;
      const { id, index, line: at, error } = record;
      found.push({
        ...(id ? { id } : {}),
        ...(index !== undefined ? { index } : {}),
        ...(at ? { line: at } : {}),
        error,
      });
      if (found.length >= MAX_LISTED) break;
    }
  } finally {
    s3.destroy();
  }
  return found;
}
