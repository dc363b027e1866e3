// The report of one local job, built from what the functions did: the orchestrator's final summary, the
// worker's EMF metrics, the dead-letter queue, the invalid tasks in the result object, and the local
// runtime's own counts of invocations and sockets.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type FanoutConfig, reservationOf } from '../lib/config.js';
import type { JobSummary, StopReason } from '../lib/fanout/summary.js';
import type { BackendInfo } from './backend.js';
import { type DeadLetterCount, type DeadLetteredTask, MAX_LISTED } from './dead-letters.js';
import type { FunctionLogs } from './function-logs.js';
import type { LocalFunction } from './local-function.js';
import type { PollerStats } from './poller.js';
import type { LatencyHistogramData } from './report/types.js';
import { type LocalResources, localCredentials } from './resources.js';

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

export interface LocalJobReport {
  readonly jobId: string;
  readonly runId?: string;
  readonly status: 'succeeded' | 'failed' | 'refused' | 'broken';
  /** Why the orchestrator stopped: complete, failure-budget (or an error for refused and broken jobs). */
  readonly reason?: StopReason;
  readonly error?: string;
  /** Tasks read from the manifest; the rest of the sums below are counted, not derived. */
  readonly submitted: number;
  readonly invalid: number;
  readonly succeeded: number;
  readonly deadLettered: number;
  /** submitted - succeeded - deadLettered - invalid: zero when every task is accounted for. */
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
}

const WORKER = 'worker';

export async function buildReport(inputs: ReportInputs): Promise<LocalJobReport> {
  const { config, jobEvent, outcome, deadLetters, logs, worker, pollerStats, sockets } = inputs;
  const final = outcome.final;
  const summary = final && final.status !== 'refused' ? final.summary : undefined;
  const counts = summary?.counts;
  const workerSucceeded = logs.metric(WORKER, 'TasksSucceeded');
  const submitted = counts?.read ?? 0;
  const invalid = counts?.invalid ?? 0;
  const succeeded = (counts?.inlineSucceeded ?? 0) + (counts?.invokeSucceeded ?? 0) + workerSucceeded;
  const deadLettered = deadLetters.tasks;
  const header = (isObject(jobEvent) ? jobEvent : {}) as { tasks?: unknown; limits?: Record<string, number> };
  const notStarted =
    summary?.stoppedAtTask !== undefined && Array.isArray(header.tasks)
      ? header.tasks.length - submitted
      : undefined;
  const { listed, ...deadLetterCounts } = deadLetters;
  const status = final ? final.status : 'broken';
  return {
    jobId: outcome.jobId ?? summary?.jobId ?? String((header as { jobId?: unknown }).jobId ?? ''),
    ...(outcome.runId ? { runId: outcome.runId } : {}),
    status,
    ...(summary ? { reason: summary.reason } : {}),
    ...(final?.status === 'refused' ? { error: final.error } : {}),
    ...(summary?.error ? { error: summary.error } : {}),
    ...(!final && outcome.errors.length > 0 ? { error: outcome.errors.join('; ') } : {}),
    submitted,
    invalid,
    succeeded,
    deadLettered,
    unaccounted: submitted - succeeded - deadLettered - invalid,
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
    invalidTasks: summary ? await readInvalidTasks(inputs, final as { resultKey?: string }) : [],
    deadLetteredTasks: listed,
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
    ...(final && 'resultKey' in final && final.resultKey ? { resultKey: final.resultKey } : {}),
    ...(summary ? { summary } : {}),
    functionErrors: logs.errors,
    latency: inputs.latency,
  };
}

/** Job limits can only lower the deployed ones (as the orchestrator applies them). */
const lower = (asked: number | undefined, cap: number) =>
  typeof asked === 'number' ? Math.min(asked, cap) : cap;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The invalid tasks the orchestrator wrote to the result object (the first MAX_LISTED). */
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
