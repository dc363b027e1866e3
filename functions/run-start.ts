// A run's start in the job ledger, at its first orchestrator segment (functions/orchestrator.ts): the run's
// origin noted, pinned to the version of its S3 file (run-origin.ts), the run recorded under the schedule's
// overlap policy, and the previous run's missed announcement made good, or its missed end when it is complete
// (under every policy).
import type { Logger } from '@aws-lambda-powertools/logger';
import type { OrchestratorEvent } from '../lib/fanout/continuation.js';
import { unannounced } from '../lib/ledger/after-settle.js';
import type { RunRecord } from '../lib/ledger/run-record.js';
import { isComplete } from '../lib/ledger/run-rules.js';
import type { OpenJob } from './open-job.js';
import type { OrchestratorResult } from './orchestrator-result.js';
import type { RunLedger } from './run-ledger.js';
import { noteOrigin } from './run-origin.js';
import type { FunctionRuntime } from './runtime.js';

/** The request that opened a job: the job, its event and Lambda's request id. */
export interface FirstRequest {
  readonly job: OpenJob;
  readonly event: OrchestratorEvent;
  readonly requestId: string;
}

/**
 * Records a new run in the job ledger at the job's first segment, under the schedule's overlap policy: the
 * result to return when the run is skipped (its previous run still running), else undefined.
 */
export async function startRun(
  ledger: RunLedger | undefined,
  rt: FunctionRuntime,
  { job, event, requestId }: FirstRequest,
  logger: Logger,
): Promise<OrchestratorResult | undefined> {
  if (!ledger || job.state.segment !== 0) return undefined;
  // Before the run exists: a report of this request failing for good finds its run, and a retry that read the
  // file rewritten since fails, and starts nothing (run-origin.ts).
  if (event.kind === 's3' && job.source.kind === 's3') {
    const { jobId, runId } = job;
    const begun = async (run: { jobId: string; runId: string }) =>
      (await ledger.store.getRun(run.jobId, run.runId)) !== undefined;
    await noteOrigin(ledger.origins, requestId, { jobId, runId, etag: job.source.etag ?? '' }, begun);
  }
  const started = await ledger.store.startRun({
    jobId: job.jobId,
    runId: job.runId,
    startedAt: job.state.startedAt,
    toleratedFailurePercent: job.manifest.header.toleratedFailurePercent ?? rt.config.toleratedFailurePercent,
    overlap: rt.config.schedule.overlap,
  });
  ledger.control.note(started.record);
  // The run before this one ended without its result object or event noted: write them now.
  if (unannounced(started.previous)) await ledger.announceMissed(started.previous);
  // Under every policy: forbid skipped this run for it, replace did not cancel it, allow would leave it.
  await endCompletePrevious(ledger, started.previous, logger);
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
  return undefined;
}

/**
 * The previous run, when every task it counted has ended but nobody ended it (its last settler died, or lost its
 * end to status changes five times): ended now, with the status it calls for. Under forbid it made this run skip
 * (which stays skipped: its record was written so), and the job's next run starts; under replace it was not
 * cancelled (nothing was left to stop); under allow nothing else would end it.
 */
async function endCompletePrevious(
  ledger: RunLedger,
  previous: RunRecord | undefined,
  logger: Logger,
): Promise<void> {
  if (!previous || !isComplete(previous)) return;
  const ended = await ledger.endIfComplete(previous.jobId, previous.runId);
  logger.warn('previous run was complete but not ended: ended now', { run: ended });
}
