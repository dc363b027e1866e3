// A resume of a run whose process died inside the orchestrator's first segment (`run --state DIR --resume`:
// the journal holds the invocation's start and no result). The segment is run again, under the same request
// id, so the same run (functions/open-job.ts runIdOf), as Lambda's retry of a killed invocation runs it: a
// copy of the segment (functions/orchestrator.ts). The killed holder's idempotency record, still in progress,
// was deleted by the put-back (local/run-resume.ts clearInProgress: its process is gone, so its heartbeats'
// 45 s need not be waited out locally), and its sends that the journal holds are dropped (local/resend-guard.ts).
// Inline tasks run in the orchestrator itself: the copy runs the segment's again, those the killed one ran
// among them, so they count among the tasks that could have run twice.

import type { FanoutConfig } from '../lib/config.js';
import { parseSegmentEnd } from '../lib/fanout/continuation.js';
import { segmentSettleKey } from '../lib/fanout/segment-copy.js';
import type { AwsTarget, LocalResources } from './resources.js';
import { withLocalLedger } from './run-record.js';

/**
 * The inline tasks the re-run first segment ended (succeeded or failed), from the end its settle kept (its
 * counts are the run's at its end, and it started from none); 0 when it kept none.
 */
export async function rereadInline(
  target: AwsTarget,
  resources: Pick<LocalResources, 'jobTable'>,
  config: Pick<FanoutConfig, 'resultsRetentionDays'>,
  ids: { readonly jobId?: string; readonly runId?: string },
): Promise<number> {
  const { jobId, runId } = ids;
  if (!jobId || !runId) return 0;
  const kept = await withLocalLedger(target, resources, config, (ledger) =>
    ledger.settledState(jobId, runId, segmentSettleKey(0)),
  );
  const counts = parseSegmentEnd(kept)?.counts;
  return counts ? counts.inlineSucceeded + counts.inlineFailed : 0;
}
