// A resume of a run whose process died inside an orchestrator segment (`run --state DIR --resume`): the first
// one (the journal holds its start and no result) or a continuation (accepted, held by a stop or running, and
// never ended). Each is run again under its request id, the first so as the same run (functions/open-job.ts
// runIdOf), as Lambda's retry of a killed invocation runs it: a copy of the segment (functions/orchestrator.ts).
// The killed holder's idempotency record, still in progress, was deleted by the put-back (local/run-resume.ts
// clearInProgress: its process is gone, so its heartbeats' 45 s need not be waited out locally), and its sends
// that the journal holds are dropped (local/resend-guard.ts). Inline tasks run in the orchestrator itself: the
// copy runs the segment's again, those the killed one ran among them, so they count among the tasks that could
// have run twice.
import type { FanoutConfig } from '../lib/config.js';
import { parseSegmentEnd } from '../lib/fanout/continuation.js';
import { segmentSettleKey } from '../lib/fanout/segment-copy.js';
import type { AcceptedEvent, JournalState } from './queue-journal.js';
import type { AwsTarget, LocalResources } from './resources.js';
import { withLocalLedger } from './run-record.js';
import type { ResumeCounts } from './run-resume.js';

/** A segment run again: its number, and the inline tasks the run had ended at its start. */
export interface RereadSegment {
  readonly segment: number;
  readonly inlineBefore: number;
}

interface InlineCounts {
  readonly inlineSucceeded?: number;
  readonly inlineFailed?: number;
}

const inlineOf = (counts: InlineCounts | undefined) =>
  (counts?.inlineSucceeded ?? 0) + (counts?.inlineFailed ?? 0);

/** The segment a continuation's event runs, and where the run stood then; undefined for another event. */
export function rereadOf({ payload }: AcceptedEvent): RereadSegment | undefined {
  const continuation = (payload as { continuation?: { segment?: unknown; counts?: InlineCounts } } | null)
    ?.continuation;
  if (typeof continuation?.segment !== 'number') return undefined;
  return { segment: continuation.segment, inlineBefore: inlineOf(continuation.counts) };
}

/**
 * The inline tasks the segments run again ended (succeeded or failed), from the end each one's settle kept
 * (the run's counts at its end) less the run's at its start; a segment that kept no end adds none.
 */
export async function rereadInline(
  target: AwsTarget,
  resources: Pick<LocalResources, 'jobTable'>,
  config: Pick<FanoutConfig, 'resultsRetentionDays'>,
  ids: { readonly jobId?: string; readonly runId?: string },
  segments: readonly RereadSegment[],
): Promise<number> {
  const { jobId, runId } = ids;
  if (!jobId || !runId || segments.length === 0) return 0;
  return withLocalLedger(target, resources, config, async (ledger) => {
    let inline = 0;
    for (const { segment, inlineBefore } of segments) {
      const kept = parseSegmentEnd(await ledger.settledState(jobId, runId, segmentSettleKey(segment)));
      if (kept) inline += Math.max(0, inlineOf(kept.counts) - inlineBefore);
    }
    return inline;
  });
}

/** A resume's counts with the segments it ran again and their inline tasks (in `tasks` too), when it ran any. */
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
    ...(resume.first ? [] : [{ segment: 0, inlineBefore: 0 }]),
    ...resume.unended.flatMap((event) => rereadOf(event) ?? []),
  ];
  if (segments.length === 0) return counts;
  const inline = await rereadInline(local.backend, local.resources, local.config, ids, segments);
  return { ...counts, tasks: counts.tasks + inline, reread: { segments: segments.length, inline } };
}
