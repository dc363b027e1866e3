// The orchestrator's on-failure destination, which the worker serves: Lambda sends it the record of an
// asynchronous invocation of the orchestrator (the schedule's, or a continuation) that failed its every attempt
// or grew older than the maximum event age. That segment never settled, and no later one will run: left alone,
// the run would stay `running` for ever, and under `schedule.overlap: forbid` every later run of the job would
// be skipped. So the run is broken here (JobLedger.breakRun): it fails with reason `orchestrator-failed` (a
// failed or cancelled run keeps its own), its manifest is read no further, and the tasks the workers settle of
// the segment's queued messages count `submitted` (lib/aws/segment-tallies.ts). It then ends as any run does,
// once every task counted has ended: here, if that is already so, else by the settle that makes it so.
//
// Not broken when a copy of the segment settled: that copy has sent the next segment, or a later attempt of
// the same event did (it finds the settle and continues from it), so the chain may well be alive. The event
// itself is in the orchestrator's dead-letter queue too (both are configured), for the operator.
import type { Logger } from '@aws-lambda-powertools/logger';
import { readS3Header } from '../lib/aws/s3-manifest.js';
import { classifyEvent } from '../lib/fanout/continuation.js';
import { errorText } from '../lib/fanout/segment.js';
import { redactText } from '../lib/http/redact.js';
import type { BreakInput } from '../lib/ledger/job-ledger.js';
import type { RunRecord } from '../lib/ledger/run-record.js';
import { ManifestError } from '../lib/manifest/errors.js';
import { parseInlineManifest } from '../lib/manifest/parse.js';
import { runIdOf } from './open-job.js';
import type { RunLedger } from './run-ledger.js';
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

/** The run, segment and why, from the failed event; throws when it names no run (a job refused). */
export async function breakOf(record: FailureRecord, rt: FunctionRuntime): Promise<BreakInput> {
  const event = classifyEvent(record.requestPayload);
  let run: { jobId: string; runId: string; segment: number; cursor: number };
  if (event.kind === 'continuation') {
    const { jobId, runId, segment, cursor } = event.continuation;
    run = { jobId, runId, segment, cursor };
  } else {
    // The first segment: its run id is the request id's, the same on every retry of the event (open-job.ts).
    const header =
      event.kind === 'inline'
        ? parseInlineManifest(event.job).header
        : await readS3Header(rt.aws.s3, event.uri, event.overrides);
    const runId = header.runId ?? runIdOf({ awsRequestId: record.requestContext.requestId });
    run = { jobId: header.jobId, runId, segment: 0, cursor: 0 };
  }
  return { jobId: run.jobId, runId: run.runId, segment: run.segment, detail: detailOf(record, run) };
}

function detailOf(record: FailureRecord, run: { segment: number; cursor: number }): string {
  const { condition, approximateInvokeCount } = record.requestContext;
  const attempts = approximateInvokeCount === undefined ? '' : ` after ${approximateInvokeCount} attempts`;
  const error = redactText(errorOf(record.responsePayload)).slice(0, MAX_ERROR_CHARS);
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
 * Breaks the run the failed event belongs to, and ends it if every task it counted has ended. Throws when the
 * ledger could not be reached: Lambda retries the destination's invocation.
 */
export async function onOrchestratorFailure(
  record: FailureRecord,
  rt: FunctionRuntime,
  ledger: RunLedger | undefined,
  logger: Logger,
): Promise<FailureAnswer> {
  let input: BreakInput;
  try {
    input = await breakOf(record, rt);
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
  const { jobId, runId, segment } = input;
  if (!ledger) {
    logger.error('orchestrator failed for good, and no job table is wired to record it', {
      jobId,
      runId,
      segment,
    });
    return { broken: false, jobId, runId, segment };
  }
  const broken = await ledger.breakRun(input);
  const now: RunRecord | undefined = broken ?? (await ledger.store.getRun(jobId, runId));
  if (broken) logger.error('orchestrator failed for good: run broken', { run: broken, detail: input.detail });
  else
    logger.warn('orchestrator failed for good, run not broken (settled, ended or broken before)', {
      jobId,
      runId,
      segment,
    });
  return { broken: broken !== undefined, jobId, runId, segment, ...(now ? { status: now.status } : {}) };
}
