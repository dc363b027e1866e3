// The orchestrator Lambda, triggered by the schedule: reads the job's manifest as a stream and runs one
// segment of it (lib/fanout/segment.ts): inline tasks in-process, queue tasks packed into SQS messages,
// invoke tasks sent to the worker in chunks, each lane bounded. Near its deadline it stops starting work
// and continues itself asynchronously with a cursor; at the end of the job it logs one summary, publishes
// EMF metrics and writes the result object when a bucket is wired.
//
// Each segment runs at most once per (job, run, segment): with the idempotency table wired, the segment
// is wrapped in Powertools' makeIdempotent, so an asynchronous invocation delivered twice finds the first
// one's record and does nothing (no task enqueued twice, no continuation forked).
import { IdempotencyAlreadyInProgressError, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { ResultWriter } from '../lib/aws/results.js';
import type { FanoutConfig } from '../lib/config.js';
import { type Continuation, classifyEvent } from '../lib/fanout/continuation.js';
import { FailureBudget } from '../lib/fanout/failure-budget.js';
import { errorText, runSegment, type SegmentLimits } from '../lib/fanout/segment.js';
import { type JobSummary, maxPeaks, StopReasons } from '../lib/fanout/summary.js';
import { LIVE_STATUSES, RunReasons, type RunRecord, RunStatuses } from '../lib/ledger/run-record.js';
import { ManifestError } from '../lib/manifest/errors.js';
import type { JobLimits } from '../lib/manifest/schema.js';
import { IdempotencyUses, idempotencyOptions } from './idempotency.js';
import { type OpenJob, openJob } from './open-job.js';
import {
  ledgerStop,
  markManifestError,
  pauseHold,
  segmentDelta,
  withOverrides,
} from './orchestrator-ledger.js';
import { continueJob, segmentPorts } from './orchestrator-ports.js';
import { type RunLedger, runLedgerOf } from './run-ledger.js';
import { type FunctionRuntime, lazyRuntime } from './runtime.js';

const logger = new Logger({ serviceName: 'bounded-fanout-orchestrator' });
const metrics = new Metrics({ namespace: 'BoundedFanout', serviceName: 'orchestrator' });

export type OrchestratorResult =
  | {
      readonly status: 'continued';
      readonly jobId: string;
      readonly runId: string;
      readonly segment: number;
      readonly cursor: number;
    }
  | {
      readonly status: 'succeeded' | 'failed' | 'cancelled';
      readonly summary: JobSummary;
      readonly resultKey?: string;
      /** The run's ledger record after this segment settled (with a job table wired). */
      readonly run?: RunRecord;
    }
  | {
      /** The job's previous run was still running and `schedule.overlap` is `forbid`: nothing started. */
      readonly status: 'skipped';
      readonly jobId: string;
      readonly runId: string;
      readonly previousRunId?: string;
    }
  | { readonly status: 'refused'; readonly error: string; readonly field: string }
  | {
      readonly status: 'duplicate';
      readonly jobId: string;
      readonly runId: string;
      readonly segment: number;
    };

export function createOrchestratorHandler(getRuntime: () => FunctionRuntime) {
  return (event: unknown, context: Context): Promise<OrchestratorResult> =>
    orchestrate(event, context, getRuntime());
}

export const handler = createOrchestratorHandler(lazyRuntime());

// One RunLedger per container's runtime, so its RunControl cache lives as long as the container.
const ledgers = new WeakMap<FunctionRuntime, RunLedger | undefined>();
function ledgerOf(rt: FunctionRuntime): RunLedger | undefined {
  if (!ledgers.has(rt)) ledgers.set(rt, runLedgerOf(rt, logger));
  return ledgers.get(rt);
}

/** Concurrency limits of a job can only lower the deployed ones: the budget was proven at deploy time. */
export function effectiveLimits(job: JobLimits | undefined, config: FanoutConfig): SegmentLimits {
  const lower = (asked: number | undefined, cap: number) => Math.min(asked ?? cap, cap);
  return {
    inline: lower(job?.inline, config.inlineConcurrency),
    enqueue: lower(job?.enqueue, config.enqueueConcurrency),
    invoke: lower(job?.invoke, config.invokeConcurrency),
    tasksPerMessage: job?.tasksPerMessage ?? config.tasksPerMessage,
    tasksPerInvoke: job?.tasksPerInvoke ?? config.tasksPerMessage,
    retryDelaySeconds: job?.retryDelaySeconds ?? 0,
  };
}

async function orchestrate(
  event: unknown,
  context: Context,
  rt: FunctionRuntime,
): Promise<OrchestratorResult> {
  logger.addContext(context);
  let job: OpenJob;
  try {
    job = await openJob(classifyEvent(event), context, rt);
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    // A bad header fails the job, not the invocation: a retry of the same event cannot do better.
    logger.error('job refused', { error: error.message, field: error.field });
    return { status: 'refused', error: error.message, field: error.field };
  }
  const ledger = ledgerOf(rt);
  if (ledger && job.state.segment === 0) {
    const started = await ledger.store.startRun({
      jobId: job.jobId,
      runId: job.runId,
      startedAt: job.state.startedAt,
      toleratedFailurePercent:
        job.manifest.header.toleratedFailurePercent ?? rt.config.toleratedFailurePercent,
      overlap: rt.config.schedule.overlap,
    });
    ledger.control.note(started.record);
    if (started.action === 'skip') {
      logger.warn('previous run still running: this run skipped (schedule.overlap forbid)', {
        jobId: job.jobId,
        runId: job.runId,
        previousRunId: started.previous?.runId,
      });
      const { jobId, runId } = job;
      const previousRunId = started.previous?.runId;
      return { status: 'skipped', jobId, runId, ...(previousRunId ? { previousRunId } : {}) };
    }
  }
  const persistence = rt.persistence(IdempotencyUses.SEGMENT);
  if (!persistence) return runJobSegment(job, context, rt);
  const idempotency = idempotencyOptions(IdempotencyUses.SEGMENT, persistence, rt.config);
  idempotency.config.registerLambdaContext(context);
  const once = makeIdempotent(async (_key: { key: string }) => runJobSegment(job, context, rt), idempotency);
  const { jobId, runId } = job;
  const segment = job.state.segment;
  try {
    const result = (await once({ key: `${jobId}:${runId}:${segment}` })) as OrchestratorResult & {
      replayed?: boolean;
    };
    if (!result.replayed) return result;
  } catch (error) {
    if (!(error instanceof IdempotencyAlreadyInProgressError)) throw error;
  }
  logger.warn('segment already run or running: duplicate delivery ignored', { jobId, runId, segment });
  return { status: 'duplicate', jobId, runId, segment };
}

async function runJobSegment(
  job: OpenJob,
  context: Context,
  rt: FunctionRuntime,
): Promise<OrchestratorResult> {
  const { jobId, runId, manifest, state } = job;
  const { header } = manifest;
  const { bucket } = rt.wiring;
  const results = bucket
    ? new ResultWriter(rt.aws.s3, {
        bucket,
        jobId,
        runId,
        segment: state.segment,
        prefix: rt.config.resultsPrefix,
      })
    : undefined;
  const budget = new FailureBudget(
    header.toleratedFailurePercent ?? rt.config.toleratedFailurePercent,
    state.budget,
  );
  const margin = rt.config.deadlineMarginMs;
  const ledger = ledgerOf(rt);
  const record = await ledger?.control.view(jobId, runId);
  const deadlineNear = () => context.getRemainingTimeInMillis() <= margin;
  // Reading stops when the run is cancelled or failed elsewhere (the cached record, refreshed every 2 s).
  const stoppedByLedger = () => ledgerStop(ledger?.control.peek(jobId, runId)) !== undefined;
  const outcome = await runSegment({
    jobId,
    runId,
    items: manifest.items,
    startAt: state.cursor,
    firstMessageSeq: state.nextMessageSeq,
    limits: withOverrides(effectiveLimits(header.limits, rt.config), record?.limits),
    budget,
    counts: state.counts,
    shouldStop: () => deadlineNear() || stoppedByLedger(),
    ...(ledger ? { hold: pauseHold(ledger.control, jobId, runId, deadlineNear) } : {}),
    ports: segmentPorts(rt),
    hooks: {
      onInvalid: (item) => {
        logger.warn('invalid task skipped', {
          jobId,
          index: item.index,
          line: item.line,
          id: item.id,
          error: item.error,
        });
        results?.add({ type: 'invalid', index: item.index, line: item.line, id: item.id, error: item.error });
      },
      onDeadLetter: (record) => results?.add({ type: 'dead-letter', ...record }),
      onUndeliverable: (record, error) => {
        logger.error('task could not be dead-lettered', {
          jobId,
          id: record.task.id,
          error: record.error,
          sendError: error,
        });
        results?.add({ type: 'undeliverable', ...record, sendError: error });
      },
    },
  });
  const peaks = maxPeaks(state.peaks, outcome.peaks);
  const reason =
    (outcome.reason === StopReasons.DEADLINE && ledgerStop(ledger?.control.peek(jobId, runId))) ||
    outcome.reason;
  const settle = async (manifestDone: boolean) => {
    // The parts first: once the segment is settled the run may end, and its result object reads them.
    await results?.flush();
    return ledger?.settle({
      jobId,
      runId,
      key: `segment:${state.segment}`,
      delta: segmentDelta(state.counts, outcome.counts),
      manifestDone,
    });
  };
  if (reason === StopReasons.DEADLINE && outcome.cursor !== undefined) {
    await settle(false);
    const continuation: Continuation = {
      v: 1,
      jobId,
      runId,
      source: job.source,
      cursor: outcome.cursor,
      nextMessageSeq: outcome.nextMessageSeq,
      segment: state.segment + 1,
      startedAt: state.startedAt,
      counts: outcome.counts,
      peaks,
      budget: budget.counts,
    };
    await continueJob(rt, continuation);
    logger.info('deadline near: job continued', {
      jobId,
      runId,
      segment: state.segment,
      cursor: outcome.cursor,
      counts: outcome.counts,
    });
    return { status: 'continued', jobId, runId, segment: state.segment, cursor: outcome.cursor };
  }
  if (reason === StopReasons.MANIFEST_ERROR) {
    logger.error('manifest unreadable past its first tasks: job failed', {
      jobId,
      runId,
      error: outcome.error,
    });
    if (ledger) await markManifestError(ledger, jobId, runId, outcome.error);
  }
  if (reason === StopReasons.FAILURE_BUDGET && outcome.reason === StopReasons.FAILURE_BUDGET) {
    // Tripped here, on the orchestrator's own outcomes: the whole fleet stops.
    await ledger?.setStatus(jobId, runId, {
      status: RunStatuses.FAILED,
      reason: RunReasons.FAILURE_BUDGET,
      from: LIVE_STATUSES,
    });
  }
  const run = ledger ? await settle(true) : undefined;
  const failed =
    reason === StopReasons.FAILURE_BUDGET ||
    reason === StopReasons.MANIFEST_ERROR ||
    outcome.counts.undeliverable > 0;
  const summary: JobSummary = {
    jobId,
    runId,
    status: reason === StopReasons.CANCELLED ? 'cancelled' : failed ? 'failed' : 'succeeded',
    reason,
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
    ...(outcome.cursor === undefined ? {} : { stoppedAtTask: outcome.cursor }),
    segments: state.segment + 1,
    durationMs: Date.now() - state.startedAt,
    counts: outcome.counts,
    peaks,
    toleratedFailurePercent: budget.toleratedFailurePercent,
  };
  let resultKey: string | undefined;
  try {
    // With the ledger, whoever ends the run writes the result object (lib/ledger/after-settle.ts).
    if (!ledger) resultKey = await results?.finish(summary);
    else if (run?.resultUri && run.finishedAt !== undefined) resultKey = results?.key;
  } catch (error) {
    logger.error('result object not written', { jobId, runId, error: errorText(error) });
  }
  publishSummary(summary);
  return {
    status: summary.status,
    summary,
    ...(resultKey ? { resultKey } : {}),
    ...(run ? { run } : {}),
  };
}

function publishSummary(summary: JobSummary): void {
  logger.info('job summary', { summary });
  const { counts, peaks } = summary;
  for (const [name, value] of Object.entries(counts))
    metrics.addMetric(`Tasks_${name}`, MetricUnit.Count, value);
  metrics.addMetric('PeakInline', MetricUnit.Count, peaks.inline);
  metrics.addMetric('PeakEnqueue', MetricUnit.Count, peaks.enqueue);
  metrics.addMetric('PeakInvoke', MetricUnit.Count, peaks.invoke);
  metrics.addMetric('JobFailed', MetricUnit.Count, summary.status === 'failed' ? 1 : 0);
  metrics.publishStoredMetrics();
}
