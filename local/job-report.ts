// The report of one local job, built from what the functions did: the orchestrator's final summary, the
// worker's EMF metrics, the dead-letter queue, the invalid tasks in the result object, and the local
// runtime's own counts of invocations and sockets.
import { effectiveLimits } from '../functions/effective-limits.js';
import { type FanoutConfig, reservationOf } from '../lib/config.js';
import type { JobCounts, JobSummary } from '../lib/fanout/summary.js';
import type { JobLimits } from '../lib/manifest/schema.js';
import { readInvalidTasks, resultKeyOf } from './invalid-tasks.js';
import {
  type LocalJobReport,
  type ReportInputs,
  UnfinishedReasons,
  type UnfinishedTask,
  type WorkerSettingsNow,
} from './local-job-report.js';
import type { ManifestTail } from './manifest-tail.js';
import { stillDeadLettered } from './report/dead-lettered.js';
import { jobLimitsOf } from './report/job-limits.js';

export {
  type InvalidTaskEntry,
  type LocalJobReport,
  type OrchestratorOutcome,
  type ReportInputs,
  UnfinishedReasons,
  type UnfinishedTask,
} from './local-job-report.js';

const WORKER = 'worker';

export async function buildReport(inputs: ReportInputs): Promise<LocalJobReport> {
  const { config, jobEvent, outcome, deadLetters, logs } = inputs;
  const final = outcome.final;
  const summary = final && final.status !== 'refused' ? final.summary : undefined;
  const tail = summary ? undefined : inputs.tail;
  const { submitted, invalid, succeeded, deadLettered, cancelled, undeliverable } = countsOf(
    inputs,
    summary,
    tail,
  );
  const unfinishedTasks = unfinishedOf(inputs, tail);
  const header = (isObject(jobEvent) ? jobEvent : {}) as { tasks?: unknown };
  const notStarted =
    summary?.stoppedAtTask !== undefined && Array.isArray(header.tasks)
      ? header.tasks.length - submitted
      : undefined;
  const { listed: copies, ...deadLetterCounts } = deadLetters;
  // Each task once, where the ledger says it ended: its list agrees with its deadLettered count.
  const listed = await stillDeadLettered(copies, inputs);
  return {
    jobId: outcome.jobId ?? summary?.jobId ?? String((header as { jobId?: unknown }).jobId ?? ''),
    ...(outcome.runId ? { runId: outcome.runId } : {}),
    ...endingOf(inputs, summary, tail),
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
    peaks: peaksOf(inputs, summary),
    limits: limitsOf(config, await jobLimitsOf(jobEvent, inputs.backend), inputs.workerSettings),
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
    worker: workerOf(inputs),
    poller: inputs.pollerStats,
    backend: inputs.backend.kind,
    interrupted: inputs.interrupted,
    ...(inputs.cutOff ? { cutOff: true } : {}),
    ...(final && 'resultKey' in final && final.resultKey ? { resultKey: final.resultKey } : {}),
    ...(summary ? { summary } : {}),
    functionErrors: logs.errors,
    latency: inputs.latency,
  };
}

/**
 * The run's counts. With the ledger, its counts are the run's (each task counted once, by the function that
 * ended it); the local observations (metrics, the DLQ's content) count only without it.
 */
function countsOf(inputs: ReportInputs, summary: JobSummary | undefined, tail: ManifestTail | undefined) {
  const { deadLetters, logs, run } = inputs;
  // A stopped job has no summary: its counts are the kept continuation's, up to where reading stopped.
  const counts: Partial<JobCounts> | undefined = summary?.counts ?? tail?.continuation.counts;
  const workerSucceeded = logs.metric(WORKER, 'TasksSucceeded');
  const unread = (tail?.valid.length ?? 0) + (tail?.invalid.length ?? 0);
  const submitted = (run ? run.submitted : (counts?.read ?? 0)) + unread;
  const invalid = (run ? run.invalid : (counts?.invalid ?? 0)) + (tail?.invalid.length ?? 0);
  const succeeded = run
    ? run.succeeded
    : (counts?.inlineSucceeded ?? 0) + (counts?.invokeSucceeded ?? 0) + workerSucceeded;
  // Without a ledger, the DLQ's tasks each once: a dead letter may be there twice (SQS sends at least once).
  const deadLettered = run ? run.deadLettered : deadLetters.distinct;
  return {
    submitted,
    invalid,
    succeeded,
    deadLettered,
    cancelled: run?.cancelled ?? 0,
    undeliverable: run?.undeliverable ?? 0,
  };
}

/** How the run ended: its status, the reason, and the error when there is one. */
function endingOf(
  inputs: ReportInputs,
  summary: JobSummary | undefined,
  tail: ManifestTail | undefined,
): Pick<LocalJobReport, 'status' | 'reason' | 'detail' | 'error'> {
  const { outcome, run } = inputs;
  const final = outcome.final;
  const ended = run?.finishedAt !== undefined ? run : undefined;
  // An orchestrator that returned says how its part went, not how the run ended: an interrupted run's record
  // is unfinished (`running`, as `bounded-fanout status` says), never the orchestrator's `succeeded`. Its own
  // word only without a ledger; `stopped` when it was cut off while reading.
  const unfinished = final && run && !ended ? run : undefined;
  const status = ended?.status ?? unfinished?.status ?? (final ? final.status : tail ? 'stopped' : 'broken');
  const reason = ended ? ended.reason : unfinished ? unfinished.reason : summary?.reason;
  return {
    status,
    ...(reason ? { reason } : {}),
    ...(ended?.detail ? { detail: ended.detail } : {}),
    ...(final?.status === 'refused' ? { error: final.error } : {}),
    ...(summary?.error ? { error: summary.error } : {}),
    ...(!final && outcome.errors.length > 0 ? { error: outcome.errors.join('; ') } : {}),
  };
}

/** The peaks the run reached, each layer's counted where it is held. */
function peaksOf(inputs: ReportInputs, summary: JobSummary | undefined): LocalJobReport['peaks'] {
  const { worker, pollerStats, logs, sockets } = inputs;
  return {
    inline: summary?.peaks.inline ?? 0,
    enqueue: summary?.peaks.enqueue ?? 0,
    invoke: summary?.peaks.invoke ?? 0,
    workers: worker.peakInFlight,
    pollerWorkers: pollerStats.peakInvocations,
    perInvocation: logs.metric(WORKER, 'PeakInFlight'),
    sockets: sockets.total,
    socketsPerContainer: sockets.perContainer,
  };
}

/**
 * The limits the run ran under: the config's, with the job header's applied as the orchestrator applies them
 * (functions/effective-limits.ts: concurrency only lowered, the packing the job's own).
 */
function limitsOf(
  config: FanoutConfig,
  job: JobLimits | undefined,
  now: WorkerSettingsNow | undefined,
): LocalJobReport['limits'] {
  const workers = config.workerMaxConcurrency;
  const workerReserved = reservationOf(config.workerReservedConcurrency);
  const changed = now && (now.workers !== workers || now.workerReserved !== workerReserved);
  const applied = effectiveLimits(job, config);
  return {
    inline: applied.inline,
    enqueue: applied.enqueue,
    invoke: applied.invoke,
    workers,
    workerReserved,
    perInvocation: config.perInvocationConcurrency,
    sockets: config.maxSockets,
    socketsPerHost: config.maxSocketsPerHost,
    tasksPerMessage: applied.tasksPerMessage,
    maxReceiveCount: config.maxReceiveCount,
    batchSize: config.batchSize,
    ...(changed ? { changedLive: now } : {}),
  };
}

/** The worker's invocations (the runtime's counts) and task outcomes (its EMF metrics). */
function workerOf({ worker, logs }: ReportInputs): LocalJobReport['worker'] {
  return {
    invocations: worker.stats.invocations,
    errors: worker.stats.errors,
    throttles: worker.stats.throttles,
    containers: worker.stats.containers,
    duplicates: logs.metric(WORKER, 'TasksDuplicate'),
    retried: logs.metric(WORKER, 'TasksRetried'),
    handedOn: logs.metric(WORKER, 'TasksHandedOn'),
    invalidMessages: logs.metric(WORKER, 'MessagesInvalid'),
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

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
