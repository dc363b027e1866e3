import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ResultWriter } from '../lib/aws/results.js';
import type { FailureBudget } from '../lib/fanout/failure-budget.js';
import { errorText, type SegmentResult } from '../lib/fanout/segment.js';
import type { SegmentCopy } from '../lib/fanout/segment-copy.js';
import { type JobPeaks, type JobSummary, type StopReason, StopReasons } from '../lib/fanout/summary.js';
import { redactText } from '../lib/http/redact.js';
import { budgetFigures } from '../lib/ledger/after-settle.js';
import { RunReasons, type RunRecord, type SegmentFailure } from '../lib/ledger/run-record.js';
import { cutText } from '../lib/wire/cut-text.js';
import { FleetBudget } from './fleet-budget.js';
import type { OpenJob } from './open-job.js';
import type { OrchestratorResult } from './orchestrator-result.js';
import type { RunLedger } from './run-ledger.js';

// The end of a job's last segment: the segment's settle (keeping how it failed, when the manifest broke or the
// failure budget tripped here), one summary logged and published as EMF metrics, and the result object.

export interface SegmentEnd {
  readonly job: OpenJob;
  /** This copy of the segment (its settle keeps the id: lib/fanout/segment-copy.ts). */
  readonly copy: SegmentCopy;
  readonly outcome: SegmentResult;
  /** The outcome's reason, or why the ledger stopped the run. */
  readonly reason: StopReason;
  readonly peaks: JobPeaks;
  readonly budget: FailureBudget;
  readonly ledger: RunLedger | undefined;
  readonly results: ResultWriter | undefined;
  /** Settles the segment's counts in the ledger (the result parts flushed first). */
  readonly settle: (manifestDone: boolean) => Promise<RunRecord | undefined>;
}

export async function endRun(end: SegmentEnd, logger: Logger, metrics: Metrics): Promise<OrchestratorResult> {
  const { job, ledger, results } = end;
  const { jobId, runId } = job;
  logFailure(end, logger);
  const run = ledger ? await end.settle(true) : undefined;
  const summary = summaryOf(end);
  let resultKey: string | undefined;
  try {
    // With the ledger, whoever ends the run writes the result object (lib/ledger/after-settle.ts).
    if (!ledger) resultKey = await results?.finish(summary);
    else if (run?.resultUri && run.finishedAt !== undefined) resultKey = results?.key;
  } catch (error) {
    logger.error('result object not written', { jobId, runId, error: errorText(error) });
  }
  publishSummary(logger, metrics, summary);
  return {
    status: summary.status,
    summary,
    ...(resultKey ? { resultKey } : {}),
    ...(run ? { run } : {}),
  };
}

/**
 * How this segment failed, for its settle to keep (SettleInput.failure): the manifest broke, or the failure
 * budget tripped here on the orchestrator's own outcomes. Only a settle that counts keeps it, so a copy of the
 * segment whose settle loses never fails the run (lib/ledger/after-settle.ts failureChange).
 */
export function segmentFailure({
  outcome,
  reason,
  budget,
}: Pick<SegmentEnd, 'outcome' | 'reason' | 'budget'>): { failure?: SegmentFailure } {
  if (reason === StopReasons.MANIFEST_ERROR) {
    const detail = outcome.error === undefined ? undefined : detailOf(outcome.error);
    return { failure: { reason: RunReasons.MANIFEST_ERROR, ...(detail === undefined ? {} : { detail }) } };
  }
  if (reason !== StopReasons.FAILURE_BUDGET || outcome.reason !== StopReasons.FAILURE_BUDGET) return {};
  // The counts it tripped on (the fleet's plus its own), as a worker's trip names them (after-settle.ts).
  const judged = budget instanceof FleetBudget ? budget.judged : undefined;
  const detail = budgetFigures(judged ?? budget.counts, budget.toleratedFailurePercent);
  return { failure: { reason: RunReasons.FAILURE_BUDGET, detail } };
}

/**
 * How much of a manifest's error the run keeps (as functions/orchestrator-failure.ts keeps of an orchestrator's):
 * the manifest makes it (a member name of up to a piece's 1 MiB), and the record is one DynamoDB item of at most
 * 400 KB, written by the segment's settle; the Run Finished event carries it too (256 KB at most).
 */
const MAX_DETAIL_CHARS = 500;

/** The error, redacted, cut in its middle when long: its start names the field, its end says what is wrong. */
function detailOf(error: string): string {
  const text = redactText(error);
  if (text.length <= MAX_DETAIL_CHARS) return text;
  const half = MAX_DETAIL_CHARS / 2;
  // Neither side keeps half of a surrogate pair (lib/wire/cut-text.ts).
  const tail = text.slice(text.length - half + 1).replace(/^[\udc00-\udfff]/, '');
  return `${cutText(text, half)}…${tail}`;
}

function logFailure({ job, outcome, reason }: SegmentEnd, logger: Logger): void {
  if (reason !== StopReasons.MANIFEST_ERROR) return;
  logger.error('manifest unreadable past its first tasks: job failed', {
    jobId: job.jobId,
    runId: job.runId,
    ...(outcome.error === undefined ? {} : { error: detailOf(outcome.error) }),
  });
}

function summaryOf({ job, outcome, reason, peaks, budget }: SegmentEnd): JobSummary {
  const { state } = job;
  const failed =
    reason === StopReasons.FAILURE_BUDGET ||
    reason === StopReasons.MANIFEST_ERROR ||
    outcome.counts.undeliverable > 0;
  return {
    jobId: job.jobId,
    runId: job.runId,
    status: reason === StopReasons.CANCELLED ? 'cancelled' : failed ? 'failed' : 'succeeded',
    reason,
    // Bounded and redacted as the record's detail: the summary is logged (CloudWatch cuts a line at 256 KB)
    // and heads the result object.
    ...(outcome.error === undefined ? {} : { error: detailOf(outcome.error) }),
    ...(outcome.cursor === undefined ? {} : { stoppedAtTask: outcome.cursor }),
    segments: state.segment + 1,
    durationMs: Date.now() - state.startedAt,
    counts: outcome.counts,
    peaks,
    toleratedFailurePercent: budget.toleratedFailurePercent,
  };
}

function publishSummary(logger: Logger, metrics: Metrics, summary: JobSummary): void {
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
