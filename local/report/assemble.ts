// Builds the CLI's report from the local runtime's (counts, peaks, dead-lettered and invalid tasks) and what the
// CLI watched itself (the timeline, and for the demo the target server's own counts and response times).
import { concurrencyOf } from '../../lib/budget/index.js';
import type { FanoutConfig } from '../../lib/config.js';
import type { WorkerSettingsNow } from '../local-job-report.js';
import type { LocalJobReport } from '../run-local-job.js';
import { redactReport } from './redact-report.js';
import type { LatencyHistogramData, ReportLimits, ReportPeaks, RunReport, TimelineSample } from './types.js';

export interface AssembleInputs {
  readonly local: LocalJobReport;
  readonly config: FanoutConfig;
  readonly timeline: readonly TimelineSample[];
  readonly manifest: string;
  /** The manifest file and its SHA-256, when the tasks came from one (`--retry-from` reads it back). */
  readonly manifestFile?: string;
  readonly manifestSha256?: string;
  readonly startedAt: Date;
  readonly latency?: LatencyHistogramData;
  readonly latencySource?: RunReport['latencySource'];
  readonly inlineInFlightSource?: RunReport['inlineInFlightSource'];
  readonly target?: RunReport['target'];
  /** A resume's first process started then (ISO time): the report covers both processes. */
  readonly resumedFrom?: string;
  /** Ctrl-C stopped the run (the runtime's own `interrupted` also counts). */
  readonly interrupted?: boolean;
}

/** The most sockets every container of the run may hold at once, and to one host (the budget's figures). */
export function socketLimits(config: FanoutConfig): { all: number; toOneHost: number } {
  const k = concurrencyOf(config);
  const perWorker = Math.min(config.perInvocationConcurrency, config.maxSockets);
  const perOrchestrator = Math.min(config.inlineConcurrency, config.maxSockets);
  return { all: k.workers * perWorker + k.orchestrators * perOrchestrator, toOneHost: k.perHost };
}

export function assembleReport(inputs: AssembleInputs): RunReport {
  const { local, config, timeline } = inputs;
  const { peaks, limits } = peaksAndLimits(local, config);
  const interrupted = Boolean(inputs.interrupted || local.interrupted);
  const unfinished = local.unfinished;
  // Every output of the run (files, stdout, the tasks file) is printed from this: secrets are redacted here.
  return redactReport({
    jobId: local.jobId,
    ...(local.runId ? { runId: local.runId } : {}),
    status: local.status,
    ...(local.reason ? { reason: local.reason } : {}),
    submitted: local.submitted,
    invalid: local.invalid,
    succeeded: local.succeeded,
    deadLettered: local.deadLettered,
    cancelled: local.cancelled,
    undeliverable: local.undeliverable,
    durationMs: local.durationMs,
    peaks,
    limits,
    invalidTasks: local.invalidTasks.map(({ id, line, error }) => ({
      ...(id === undefined ? {} : { id }),
      ...(line === undefined ? {} : { line }),
      error,
    })),
    deadLetteredTasks: local.deadLetteredTasks.map(({ id, attempts, error, task }) => ({
      id,
      attempts,
      error,
      ...(task === undefined ? {} : { task }),
    })),
    ...(unfinished > 0 ? { unfinishedTasks: local.unfinishedTasks } : {}),
    timeline,
    ...(inputs.latency && inputs.latency.count > 0
      ? { latency: inputs.latency, latencySource: inputs.latencySource ?? 'tasks' }
      : {}),
    ...(inputs.inlineInFlightSource ? { inlineInFlightSource: inputs.inlineInFlightSource } : {}),
    manifest: inputs.manifest,
    ...(inputs.manifestFile ? { manifestFile: inputs.manifestFile } : {}),
    ...(inputs.manifestSha256 ? { manifestSha256: inputs.manifestSha256 } : {}),
    ...(interrupted ? { interrupted } : {}),
    // An interrupted run leaves tasks neither succeeded nor dead-lettered; they are counted, not hidden.
    ...(unfinished > 0 ? { unfinished } : {}),
    ...(local.cutOff ? { cutOff: true } : {}),
    ...(local.resumed && inputs.resumedFrom
      ? { resumed: { startedAt: inputs.resumedFrom, idempotency: config.idempotency, ...local.resumed } }
      : {}),
    ...(inputs.target ? { target: inputs.target } : {}),
    startedAt: inputs.startedAt.toISOString(),
    runtime: runtimeOf(local),
  });
}

/** The run's peaks, each against its limit (the socket limits are the budget's, over every container). */
function peaksAndLimits(
  local: LocalJobReport,
  config: FanoutConfig,
): { peaks: ReportPeaks; limits: ReportLimits } {
  // The budget's sums for this run: its orchestrator ran under the job's own inline and invoke limits.
  const sockets = socketLimits({
    ...config,
    inlineConcurrency: local.limits.inline,
    enqueueConcurrency: local.limits.enqueue,
    invokeConcurrency: local.limits.invoke,
  });
  const peaks: ReportPeaks = {
    inline: local.peaks.inline,
    workers: local.peaks.pollerWorkers,
    sockets: local.peaks.sockets,
    workersAll: local.peaks.workers,
    perInvocation: local.peaks.perInvocation,
    socketsPerContainer: local.peaks.socketsPerContainer,
  };
  const limits: ReportLimits = {
    inline: local.limits.inline,
    workers: local.limits.workers,
    sockets: sockets.all,
    workersReserved: local.limits.workerReserved,
    perInvocation: local.limits.perInvocation,
    socketsPerContainer: local.limits.sockets,
    socketsPerHost: local.limits.socketsPerHost,
    socketsToOneHost: sockets.toOneHost,
    tasksPerMessage: local.limits.tasksPerMessage,
    maxReceiveCount: local.limits.maxReceiveCount,
    ...(local.limits.changedLive ? { changedLive: changedLiveOf(local.limits.changedLive) } : {}),
  };
  return { peaks, limits };
}

/** The local runtime's own view of the run: its verdict, the unaccounted tasks, each part's figures. */
function runtimeOf(local: LocalJobReport): RunReport['runtime'] {
  return {
    status: local.status,
    ...(local.reason ? { reason: local.reason } : {}),
    ...(local.detail ? { detail: local.detail } : {}),
    ...(local.error ? { error: local.error } : {}),
    unaccounted: local.unaccounted,
    backend: local.backend,
    orchestrator: local.orchestrator,
    worker: local.worker,
    deadLetters: local.deadLetters,
    ...(local.functionErrors.length ? { functionErrors: local.functionErrors.slice(-10) } : {}),
  };
}

const changedLiveOf = ({ workers, workerReserved }: WorkerSettingsNow) => ({
  workers,
  ...(workerReserved === undefined ? {} : { workersReserved: workerReserved }),
});
