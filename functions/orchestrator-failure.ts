// The orchestrator's on-failure destination, which the worker serves: Lambda sends it the record of an
// asynchronous invocation of the orchestrator (the schedule's, or a continuation) that failed its every attempt
// or grew older than the maximum event age. That segment never settled, and no later one will run: left alone,
// the run would stay `running` for ever, and under `schedule.overlap: forbid` every later run of the job would
// be skipped. So the run is broken here (JobLedger.breakRun): it fails with reason `orchestrator-failed` (a
// failed or cancelled run keeps its own), its manifest is read no further, and the tasks the workers settle of
// the segment's queued messages count `submitted` (lib/aws/segment-tallies.ts). It then ends as any run does,
// once every task counted has ended: here, if that is already so, else by the settle that makes it so.
//
// Not broken when a copy of the segment settled: the run went on from that settle, or should have. Its every
// attempt may have failed after the settle and before the next segment was sent (the Invoke refused, say),
// and nothing else would send it: so the next segment is sent again from the settle's kept end, as a later
// attempt would have. A duplicate of one already sent does nothing (a segment runs once per key, and its
// copies agree); if the next segment fails for good in turn, it is reported here and breaks the run. The event
// itself is in the orchestrator's dead-letter queue too (both are configured), for the operator.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { RunIds } from '../lib/aws/run-origins.js';
import { letGo, parseS3Uri, type S3Location } from '../lib/aws/s3-manifest.js';
import {
  type Continuation,
  classifyEvent,
  nextContinuation,
  type SegmentEndState,
} from '../lib/fanout/continuation.js';
import { errorText } from '../lib/fanout/segment.js';
import { redactText } from '../lib/http/redact.js';
import type { BreakInput } from '../lib/ledger/job-ledger.js';
import { ManifestError } from '../lib/manifest/errors.js';
import { cutText } from '../lib/wire/cut-text.js';
import { openFirst } from './open-job.js';
import { keptEnd } from './orchestrator-ledger.js';
import { continueJob } from './orchestrator-ports.js';
import type { RunLedger } from './run-ledger.js';
import { guessedIds } from './run-origin.js';
import type { FunctionRuntime } from './runtime.js';

/** Lambda's record of an asynchronous invocation that failed for good (an on-failure destination's event). */
export interface FailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn?: string;
    /** `RetriesExhausted` or `EventAgeExceeded`. */
    readonly condition: string;
    readonly approximateInvokeCount?: number;
  };
  /** The event the invocation was given. */
  readonly requestPayload: unknown;
  /** The function's error (`errorType`, `errorMessage`), when it ran and failed. */
  readonly responsePayload?: unknown;
}

/** The answer to a failure record; the worker returns it (Lambda keeps nothing of it). */
export interface FailureAnswer {
  readonly broken: boolean;
  /** The segment had settled: the number of the next segment, sent again. */
  readonly continued?: number;
  readonly jobId?: string;
  readonly runId?: string;
  readonly segment?: number;
  readonly status?: string;
}

/** How much of the orchestrator's error the run's `detail` keeps. */
const MAX_ERROR_CHARS = 500;

export function isFailureRecord(event: unknown): event is FailureRecord {
  const context = (event as FailureRecord | null)?.requestContext;
  return (
    typeof context === 'object' &&
    context !== null &&
    typeof context.condition === 'string' &&
    typeof context.requestId === 'string' &&
    Object.hasOwn(event as object, 'requestPayload')
  );
}

/** The failed segment: its run, where it began reading, and where the job's manifest is. */
type FailedSegment = Pick<Continuation, 'jobId' | 'runId' | 'segment' | 'cursor' | 'source'>;

/** The segment the failed event ran; throws when it names no run (a job the orchestrator refused). */
export async function failedSegmentOf(
  record: FailureRecord,
  rt: FunctionRuntime,
  ledger: RunLedger | undefined,
): Promise<FailedSegment> {
  const event = classifyEvent(record.requestPayload);
  if (event.kind === 'continuation') {
    const { jobId, runId, segment, cursor, source } = event.continuation;
    return { jobId, runId, segment, cursor, source };
  }
  const requestId = record.requestContext.requestId;
  // The run this request began, as the orchestrator noted it before starting it, read before the file: the file
  // may name another run now (rewritten at a fixed key for the next run), or be gone (functions/run-origin.ts).
  const noted = event.kind === 's3' ? await ledger?.origins.of(requestId) : undefined;
  if (event.kind === 's3' && noted) return firstS3Segment(parseS3Uri(event.uri), event.overrides, noted);
  // The first segment, named as the orchestrator names it (open-job.ts openFirst): its run id is the request
  // id's, the same on every retry of the event.
  try {
    const { jobId, runId, source, body } = await openFirst(event, { awsRequestId: requestId }, rt);
    if (body !== undefined) letGo(body);
    return { jobId, runId, segment: 0, cursor: 0, source };
  } catch (error) {
    if (event.kind !== 's3' || !(error instanceof ManifestError)) throw error;
    // Unreadable now (deleted since the run began, say), and nothing noted (a run begun before origins were).
    const location = parseS3Uri(event.uri);
    return firstS3Segment(location, event.overrides, guessedIds(location, event.overrides, requestId));
  }
}

/** A first segment read from S3, its run named without reading the file (noted, or guessed as the orchestrator would). */
function firstS3Segment(
  location: S3Location,
  overrides: Readonly<Record<string, unknown>>,
  { jobId, runId }: RunIds,
): FailedSegment {
  const source = {
    kind: 's3',
    ...location,
    format: 'auto',
    overrides: { ...overrides, jobId, runId },
  } as const;
  return { jobId, runId, segment: 0, cursor: 0, source };
}

function detailOf(record: FailureRecord, run: { segment: number; cursor: number }): string {
  const { condition, approximateInvokeCount } = record.requestContext;
  const attempts = approximateInvokeCount === undefined ? '' : ` after ${approximateInvokeCount} attempts`;
  const error = cutText(redactText(errorOf(record.responsePayload)), MAX_ERROR_CHARS);
  return (
    `orchestrator segment ${run.segment} (the manifest from task ${run.cursor}) failed for good${attempts} ` +
    `(${condition}): ${error}`
  );
}

function errorOf(payload: unknown): string {
  const { errorType, errorMessage } = (payload ?? {}) as { errorType?: unknown; errorMessage?: unknown };
  if (typeof errorMessage === 'string') {
    return typeof errorType === 'string' ? `${errorType}: ${errorMessage}` : errorMessage;
  }
  return payload === undefined ? 'no error reported' : JSON.stringify(payload);
}

/**
 * Breaks the run the failed event belongs to, and ends it if every task it counted has ended; or, when its
 * segment had settled, sends the next segment again. Throws when the ledger or Lambda could not be reached:
 * Lambda retries the destination's invocation.
 */
export async function onOrchestratorFailure(
  record: FailureRecord,
  rt: FunctionRuntime,
  ledger: RunLedger | undefined,
  logger: Logger,
): Promise<FailureAnswer> {
  let failed: FailedSegment;
  try {
    failed = await failedSegmentOf(record, rt, ledger);
  } catch (error) {
    // Anything else (S3 unreachable or throttled for a moment) is thrown: Lambda retries this invocation, and
    // the report is not lost to a passing fault (the orchestrator tells them apart the same way).
    if (!(error instanceof ManifestError)) throw error;
    // A refused job (a header that does not parse): the orchestrator started no run for it.
    logger.error('orchestrator failed on an event that names no run: nothing to break', {
      condition: record.requestContext.condition,
      error: errorText(error),
    });
    return { broken: false };
  }
  const { jobId, runId, segment } = failed;
  const ids = { jobId, runId, segment };
  if (!ledger) {
    logger.error('orchestrator failed for good, and no job table is wired to record it', ids);
    return { broken: false, ...ids };
  }
  const end = await keptEnd(ledger, ids);
  if (end) return continueSettled(rt, logger, ledger, failed, end);
  const input: BreakInput = { ...ids, detail: detailOf(record, failed) };
  const { broken, record: now } = await ledger.breakRun(input);
  if (broken) logger.error('orchestrator failed for good: run broken', { run: now, detail: input.detail });
  else logger.warn('orchestrator failed for good, run not broken (ended or broken before)', ids);
  return { broken, ...ids, ...(now ? { status: now.status } : {}) };
}

/**
 * The failed segment had settled: the next one is sent again from its kept end (see above); when that end was
 * the manifest's, there is nothing to send.
 */
async function continueSettled(
  rt: FunctionRuntime,
  logger: Logger,
  ledger: RunLedger,
  failed: FailedSegment,
  end: SegmentEndState,
): Promise<FailureAnswer> {
  const { jobId, runId, segment } = failed;
  const ids = { jobId, runId, segment };
  if (end.cursor === undefined) {
    logger.warn('orchestrator failed for good after the job’s last segment settled: nothing to send', ids);
    // Its every attempt may have failed after that settle, before the run's end: the run ends here then.
    await ledger.endIfComplete(jobId, runId);
    return { broken: false, ...ids };
  }
  await continueJob(rt, nextContinuation(failed, segment, { ...end, cursor: end.cursor }));
  logger.warn('orchestrator failed for good after its segment settled: the next segment sent again', ids);
  return { broken: false, ...ids, continued: segment + 1 };
}
