// The orchestrator Lambda, triggered by the schedule: reads the job's manifest as a stream and runs one
// segment of it (lib/fanout/segment.ts): inline tasks in-process, queue tasks packed into SQS messages,
// invoke tasks sent to the worker in chunks, each lane bounded. Near its deadline it stops starting work
// and continues itself asynchronously with a cursor; at the end of the job it logs one summary, publishes
// EMF metrics and writes the result object when a bucket is wired.
//
// Each segment runs at most once per (job, run, segment): with the idempotency table wired, the segment
// is wrapped in Powertools' makeIdempotent, so an asynchronous invocation delivered twice finds the first
// one's record and does nothing (no task enqueued twice, no continuation forked), unless the first one's holder
// has missed its heartbeats: it died without an error, and this copy runs the segment (segment-heartbeat.ts).
//
// A segment may still run twice: Lambda retries an invocation that timed out (its idempotency record expires
// with it), or one killed between its ledger settle and its continuation. The copies are made to agree: a
// stop hands back its part-filled message (lib/fanout/reread.ts), so every copy's message k holds the same
// tasks, and the segment's settle keeps where the job goes on (SegmentEndState): only the first settle of
// `segment:<n>` counts, and every copy continues from what it kept, so whichever continuation runs, the
// counts and the manifest's split are those of the copy that settled.
import { IdempotencyAlreadyInProgressError, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { ResultWriter } from '../lib/aws/results.js';
import { letGo } from '../lib/aws/s3-manifest.js';
import {
  classifyEvent,
  nextContinuation,
  type OrchestratorEvent,
  type SegmentEndState,
} from '../lib/fanout/continuation.js';
import { runSegment } from '../lib/fanout/segment.js';
import { newCopyId, type SegmentCopy } from '../lib/fanout/segment-copy.js';
import { maxPeaks, StopReasons } from '../lib/fanout/summary.js';
import { ManifestError } from '../lib/manifest/errors.js';
import { effectiveLimits } from './effective-limits.js';
import { endRun, type SegmentEnd, segmentFailure } from './end-run.js';
import { jobBudget } from './fleet-budget.js';
import { functionLogger } from './function-logger.js';
import { IdempotencyUses, idempotencyOptions } from './idempotency.js';
import { type OpenJob, openJob } from './open-job.js';
import {
  endState,
  inlineOverride,
  ledgerStop,
  pauseHold,
  segmentDelta,
  segmentKey,
  storedEnd,
  withHostOverrides,
} from './orchestrator-ledger.js';
import { continueJob, segmentPorts } from './orchestrator-ports.js';
import type { OrchestratorResult } from './orchestrator-result.js';
import { type RunLedger, runLedgerOf } from './run-ledger.js';
import { startRun } from './run-start.js';
import { type FunctionRuntime, lazyRuntime } from './runtime.js';
import { segmentCutoff } from './segment-cutoff.js';
import { firstBeat, holderDead, startHeartbeat } from './segment-heartbeat.js';
import { segmentHooks } from './segment-hooks.js';

const logger = functionLogger('bounded-fanout-orchestrator');
const metrics = new Metrics({ namespace: 'BoundedFanout', serviceName: 'orchestrator' });

export type { OrchestratorResult };

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

async function orchestrate(
  event: unknown,
  context: Context,
  rt: FunctionRuntime,
): Promise<OrchestratorResult> {
  logger.addContext(context);
  let job: OpenJob;
  let classified: OrchestratorEvent;
  try {
    classified = classifyEvent(event);
    job = await openJob(classified, context, rt);
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    // A bad header fails the job, not the invocation: a retry of the same event cannot do better.
    logger.error('job refused', { error: error.message, field: error.field });
    return { status: 'refused', error: error.message, field: error.field };
  }
  try {
    return await runOpened(job, classified, context, rt);
  } finally {
    // Whatever this invocation read of an S3 manifest, its body goes now: one left unread (a skipped run, a
    // duplicate, a segment already settled) would hold one of the container's few AWS sockets for ever.
    if (job.body !== undefined) letGo(job.body);
  }
}

/** The opened job's run: started, then its segment run once (or taken over), or answered duplicate. */
async function runOpened(
  job: OpenJob,
  classified: OrchestratorEvent,
  context: Context,
  rt: FunctionRuntime,
): Promise<OrchestratorResult> {
  const skipped = await startRun(
    ledgerOf(rt),
    rt,
    { job, event: classified, requestId: context.awsRequestId },
    logger,
  );
  if (skipped) return skipped;
  const persistence = rt.persistence(IdempotencyUses.SEGMENT);
  if (!persistence) return runJobSegment(job, context, rt);
  const idempotency = idempotencyOptions(IdempotencyUses.SEGMENT, persistence, rt.config);
  idempotency.config.registerLambdaContext(context);
  const { jobId, runId } = job;
  const segment = job.state.segment;
  // Beaten before the claim, so a holder that dies just after it is told dead as any other (segment-heartbeat.ts).
  const beaten = await firstBeat(ledgerOf(rt)?.beats, { jobId, runId, segment }, logger);
  const once = makeIdempotent(
    async (_key: { key: string }) => runJobSegment(job, context, rt, !beaten),
    idempotency,
  );
  try {
    const result = (await once({ key: `${jobId}:${runId}:${segment}` })) as OrchestratorResult & {
      replayed?: boolean;
    };
    if (!result.replayed) return result;
  } catch (error) {
    if (!(error instanceof IdempotencyAlreadyInProgressError)) throw error;
    // In progress, but its holder may have died without an error: then this copy runs it (segment-heartbeat.ts).
    const beats = ledgerOf(rt)?.beats;
    if (beats && (await holderDead(beats, { jobId, runId, segment }, rt.config.segmentHeartbeatMs))) {
      logger.warn('segment in progress, its holder missed its heartbeats: this copy runs it', {
        jobId,
        runId,
        segment,
      });
      return runJobSegment(job, context, rt);
    }
  }
  logger.warn('segment already run or running: duplicate delivery ignored', { jobId, runId, segment });
  return { status: 'duplicate', jobId, runId, segment };
}

/** The segment's part of the run's result object, when a bucket is wired: named by this copy's id. */
function resultWriterOf(rt: FunctionRuntime, { jobId, runId }: OpenJob, copy: SegmentCopy) {
  const { bucket } = rt.wiring;
  if (!bucket) return undefined;
  const prefix = rt.config.resultsPrefix;
  return new ResultWriter(rt.aws.s3, { bucket, jobId, runId, segment: copy.segment, copy: copy.id, prefix });
}

/**
 * The segment, beating while it runs: a copy that finds it in progress can tell whether its holder lives. Its
 * first beat at once, unless this attempt wrote the segment's first beat just before its claim.
 */
async function runJobSegment(
  job: OpenJob,
  context: Context,
  rt: FunctionRuntime,
  beatNow = true,
): Promise<OrchestratorResult> {
  const beats = ledgerOf(rt)?.beats;
  const { jobId, runId, state } = job;
  const ids = { jobId, runId, segment: state.segment };
  const every = rt.config.segmentHeartbeatMs;
  const stop = beats ? startHeartbeat(beats, ids, every, logger, { beatNow }) : undefined;
  try {
    return await runSegmentOnce(job, context, rt);
  } finally {
    await stop?.();
  }
}

async function runSegmentOnce(
  job: OpenJob,
  context: Context,
  rt: FunctionRuntime,
): Promise<OrchestratorResult> {
  const { jobId, runId, manifest, state } = job;
  const { header } = manifest;
  const ledger = ledgerOf(rt);
  // A copy of this segment settled already: this invocation is a retry of one killed after its settle.
  const settled = await storedEnd(ledger, job);
  if (settled) return followStored(job, settled, rt);
  // This copy's id: on its dead letters, result part and settle, so the winner's are told from a loser's.
  const copy = { segment: state.segment, id: newCopyId() };
  const results = resultWriterOf(rt, job, copy);
  const budget = jobBudget(header.toleratedFailurePercent ?? rt.config.toleratedFailurePercent, ledger, job);
  const margin = rt.config.deadlineMarginMs;
  // Read, not the cached copy: a run broken at an earlier attempt's failure (functions/orchestrator-failure.ts)
  // is the workers' to count, and a late copy of the segment (a redrive of the event) reads nothing.
  const record = await ledger?.store.getRun(jobId, runId);
  ledger?.control.note(record);
  if (record?.brokenSegment !== undefined) return { status: 'broken', jobId, runId, segment: state.segment };
  const current = () => ledger?.control.peek(jobId, runId) ?? record;
  const deadlineNear = () => context.getRemainingTimeInMillis() <= margin;
  // Reading stops when the run is cancelled or failed elsewhere (the cached record, refreshed every 2 s).
  const stoppedByLedger = () => ledgerStop(current()) !== undefined;
  const cutoff = segmentCutoff(context, margin, job.body);
  const outcome = await runSegment({
    jobId,
    runId,
    items: manifest.items,
    startAt: state.cursor,
    ...(state.reread ? { reread: state.reread } : {}),
    firstMessageSeq: state.nextMessageSeq,
    limits: effectiveLimits(header.limits, rt.config),
    copy,
    ...(ledger ? { inlineCap: () => inlineOverride(current()) } : {}),
    budget,
    counts: state.counts,
    shouldStop: () => deadlineNear() || stoppedByLedger(),
    ...(ledger ? { hold: pauseHold(ledger.control, jobId, runId, deadlineNear) } : {}),
    cutoff: cutoff.signal,
    ports: withHostOverrides(segmentPorts(rt), ledger, current),
    hooks: segmentHooks(logger, jobId, results),
  }).finally(cutoff.close);
  const peaks = maxPeaks(state.peaks, outcome.peaks);
  const reason = (outcome.reason === StopReasons.DEADLINE && ledgerStop(current())) || outcome.reason;
  return finishSegment({ job, copy, outcome, reason, peaks, budget, ledger, results }, rt);
}

/** Settles the segment, then continues the job or ends the run, from whichever copy's settle counted. */
async function finishSegment(
  base: Omit<SegmentEnd, 'settle'>,
  rt: FunctionRuntime,
): Promise<OrchestratorResult> {
  const { job, outcome, reason, peaks, budget, ledger, results } = base;
  const { jobId, runId, state } = job;
  const own = { ...endState(job, outcome, reason, peaks, budget), copy: base.copy.id };
  // Whether this copy's settle counted: then what it kept is `own`, and reading it back would tell nothing.
  let counted = false;
  const settle = async (manifestDone: boolean) => {
    // The parts first: once the segment is settled the run may end, and its result object reads them.
    await results?.flush();
    const delta = segmentDelta(state.counts, outcome.counts);
    const kept = { state: own as unknown as Record<string, unknown>, ...segmentFailure(base) };
    const input = { jobId, runId, key: segmentKey(job), delta, manifestDone, ...kept };
    const settled = await ledger?.settleOnce(input);
    counted = settled?.applied ?? false;
    return settled?.record;
  };
  const end = { ...base, settle, counted: () => counted };
  if (own.cursor !== undefined) return continueRun(end, own, rt);
  // Another copy settled this segment while this one ran: its end is the run's, not this one's.
  const other = await storedEnd(ledger, job);
  if (other) return followStored(job, other, rt);
  const ended = await endRun(end, logger, metrics);
  // One settled it in between, and went on: this copy's settle did not count, the run continues from there.
  const kept = counted ? own : await storedEnd(ledger, job);
  return kept?.cursor === undefined ? ended : followStored(job, kept, rt);
}

/** Near the deadline: the segment settled, the job goes on in a new invocation from where the first settle said. */
async function continueRun(
  end: SegmentEnd & { readonly counted: () => boolean },
  own: SegmentEndState,
  rt: FunctionRuntime,
): Promise<OrchestratorResult> {
  await end.settle(false);
  // Read back unless this settle counted: when another copy settled first, its end is the one that counts.
  const stored = (!end.counted() && (await storedEnd(end.ledger, end.job))) || own;
  return followStored(end.job, stored, rt);
}

/** Continues the job from a segment's settled end; an end with no cursor ended the job, nothing to send. */
async function followStored(
  job: OpenJob,
  end: SegmentEndState,
  rt: FunctionRuntime,
): Promise<OrchestratorResult> {
  const { jobId, runId, state } = job;
  const { cursor } = end;
  if (cursor === undefined) {
    logger.warn("segment already settled as the job's end: nothing more to do", {
      jobId,
      runId,
      segment: state.segment,
    });
    // The copy that settled it may have failed before the run's end: a retry's own settle counts nothing.
    await ledgerOf(rt)?.endIfComplete(jobId, runId);
    return { status: 'duplicate', jobId, runId, segment: state.segment };
  }
  await continueJob(rt, nextContinuation(job, state.segment, { ...end, cursor }));
  logger.info('deadline near: job continued', {
    jobId,
    runId,
    segment: state.segment,
    cursor,
    counts: end.counts,
  });
  return { status: 'continued', jobId, runId, segment: state.segment, cursor };
}
