// A resume of a run whose process died inside an orchestrator segment (`run --state DIR --resume`): the first
// one (the journal holds its start and no result) or a continuation (accepted, held by a stop or running, and
// never ended). Each is run again under its request id, the first so as the same run (functions/open-job.ts
// runIdOf), as Lambda's retry of a killed invocation runs it: a copy of the segment (functions/orchestrator.ts).
// The killed holder's idempotency record, still in progress, was deleted by the put-back (local/run-resume.ts
// clearInProgress: its process is gone, so its heartbeats' 45 s need not be waited out locally), and its sends
// that the journal holds are dropped (local/resend-guard.ts). Inline and invoke tasks run in the orchestrator
// itself (an invoke chunk is a RequestResponse call of the worker, never a queue send): the copy runs the
// segment's again, those the killed one ran among them, so they count among the tasks that could have run twice.
import type { FanoutConfig } from '../lib/config.js';
import { parseSegmentEnd } from '../lib/fanout/continuation.js';
import { segmentSettleKey } from '../lib/fanout/segment-copy.js';
import type { AcceptedEvent, JournalState } from './queue-journal.js';
import type { AwsTarget, LocalResources } from './resources.js';
import { withLocalLedger } from './run-record.js';
import type { ResumeCounts } from './run-resume.js';

/** A segment run again: its number, and the inline and invoke tasks the run had ended at its start. */
export interface RereadSegment {
  readonly segment: number;
  readonly inlineBefore: number;
  readonly invokedBefore: number;
}

interface RunCounts {
  readonly inlineSucceeded?: number;
  readonly inlineFailed?: number;
  readonly invokeSucceeded?: number;
  readonly invokeFailed?: number;
}

const inlineOf = (counts: RunCounts | undefined) =>
  (counts?.inlineSucceeded ?? 0) + (counts?.inlineFailed ?? 0);
const invokedOf = (counts: RunCounts | undefined) =>
  (counts?.invokeSucceeded ?? 0) + (counts?.invokeFailed ?? 0);

/** The inline and invoke tasks the segments run again ended. */
export interface RereadTasks {
  readonly inline: number;
  readonly invoked: number;
}

/** The segment a continuation's event runs, and where the run stood then; undefined for another event. */
export function rereadOf({ payload }: AcceptedEvent): RereadSegment | undefined {
  const continuation = (payload as { continuation?: { segment?: unknown; counts?: RunCounts } } | null)
    ?.continuation;
  if (typeof continuation?.segment !== 'number') return undefined;
  const { counts } = continuation;
  return { segment: continuation.segment, inlineBefore: inlineOf(counts), invokedBefore: invokedOf(counts) };
}

/**
 * The inline and invoke tasks the segments run again ended (succeeded or failed), from the end each one's
 * settle kept (the run's counts at its end) less the run's at its start; a segment that kept no end adds none.
 */
export async function rereadTasks(
  target: AwsTarget,
  resources: Pick<LocalResources, 'jobTable'>,
  config: Pick<FanoutConfig, 'resultsRetentionDays'>,
  ids: { readonly jobId?: string; readonly runId?: string },
  segments: readonly RereadSegment[],
): Promise<RereadTasks> {
  const { jobId, runId } = ids;
  if (!jobId || !runId || segments.length === 0) return { inline: 0, invoked: 0 };
  return withLocalLedger(target, resources, config, async (ledger) => {
    let inline = 0;
    let invoked = 0;
    for (const { segment, inlineBefore, invokedBefore } of segments) {
      const kept = parseSegmentEnd(await ledger.settledState(jobId, runId, segmentSettleKey(segment)));
      if (!kept) continue;
      inline += Math.max(0, inlineOf(kept.counts) - inlineBefore);
      invoked += Math.max(0, invokedOf(kept.counts) - invokedBefore);
    }
    return { inline, invoked };
  });
}

/** A resume's counts with the segments it ran again and their inline and invoke tasks (in `tasks` too), if any. */
export async function withRereads(
  local: {
    readonly backend: AwsTarget;
    readonly resources: Pick<LocalResources, 'jobTable'>;
    readonly config: Pick<FanoutConfig, 'resultsRetentionDays'>;
  },
  ids: { readonly jobId?: string; readonly runId?: string },
  resume: Pick<JournalState, 'first' | 'unended'>,
  counts: ResumeCounts,
): Promise<ResumeCounts> {
  const segments = [
    ...(resume.first ? [] : [{ segment: 0, inlineBefore: 0, invokedBefore: 0 }]),
    ...resume.unended.flatMap((event) => rereadOf(event) ?? []),
  ];
  if (segments.length === 0) return counts;
  const { inline, invoked } = await rereadTasks(local.backend, local.resources, local.config, ids, segments);
  const reread = { segments: segments.length, inline, invoked };
  return { ...counts, tasks: counts.tasks + inline + invoked, reread };
}
