// Which dead-lettered tasks a report lists: each task once, and only those the ledger still counts
// failed. A dead letter can be found twice (SQS sends at least once; a redrive can leave a copy behind;
// a redriven task that fails again is dead-lettered anew), while the ledger counts each task once: its settle
// is keyed by message, and a redriven task that now ended otherwise leaves `deadLettered` under a move key of
// its own (lib/ledger/ledger-keys.ts movedKey, functions/worker-hand-on.ts), whose marker says where it went.
// Neither the DLQ nor the result object forgets a task that moved, so the list is checked against those keys.
// And an orchestrator segment may run twice: only the copy whose `segment:<n>` settle counted is the run's
// (lib/fanout/segment-copy.ts), so a losing copy's dead letters (still in the DLQ, carrying its copy) were
// never counted, and the winner may have run those tasks to success: they are left out, judged by the
// segment's marker, one read per segment.
import type { FanoutConfig } from '../../lib/config.js';
import { keptCopy, ofWinningCopies, runWinnerIn, type SegmentCopy } from '../../lib/fanout/segment-copy.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { type MovedAs, movedAsOf, movedKey } from '../../lib/ledger/ledger-keys.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import { runBounded } from '../../lib/run-bounded.js';
import type { AwsTarget, LocalResources } from '../resources.js';
import { withLocalLedger } from '../run-record.js';

/**
 * Where the task went when it left `deadLettered` (a redrive ran it to another end): `unknown` for a move
 * whose marker does not say; undefined when it never left.
 */
export type MovedCheck = (taskId: string) => Promise<MovedAs | 'unknown' | undefined>;

/** Reads of the ledger in flight at once while checking a list. */
const CHECKS_AT_ONCE = 32;

/**
 * Each task once, by id (the entries are of one run), at its first entry's place with its last entry's
 * attempts and error: the later dead letter is the later failure.
 */
export function eachTaskOnce<T extends { readonly id: string }>(entries: Iterable<T>): T[] {
  const byId = new Map<string, T>();
  for (const entry of entries) byId.set(entry.id, entry);
  return [...byId.values()];
}

/** The move keys of a run in the ledger, as a MovedCheck. */
export function movedIn(ledger: Pick<JobLedger, 'settledMarker'>, jobId: string, runId: string): MovedCheck {
  return async (taskId) => {
    const marker = await ledger.settledMarker(jobId, runId, movedKey(taskId));
    return marker && movedAsOf(marker.state);
  };
}

/** The ids among `ids` that moved, each with where it went, a few reads at a time. */
export async function movedAmong(
  ids: readonly string[],
  moved: MovedCheck,
): Promise<Map<string, MovedAs | 'unknown'>> {
  const out = new Map<string, MovedAs | 'unknown'>();
  const found = await runBounded(ids, (id) => moved(id), { concurrency: CHECKS_AT_ONCE, stopOnError: true });
  ids.forEach((id, i) => {
    const r = found[i];
    if (r?.status === 'fulfilled' && r.value) out.set(id, r.value);
  });
  return out;
}

/** A segment's `segment:<n>` marker (undefined: no copy has settled it yet). */
export type SegmentMarkerRead = (segment: number) => Promise<{ readonly state?: unknown } | undefined>;

/**
 * The entries less those of a segment copy whose settle did not count (another copy's is on the marker). One
 * of no copy is kept, and one whose segment is not settled yet (it may still count) or whose marker names no
 * copy (written before copies had ids: it cannot tell). One marker read per segment the copies name; none
 * when no entry carries a copy (lib/fanout/segment-copy.ts ofWinningCopies).
 */
export function lessLosingCopies<T extends { readonly copy?: SegmentCopy }>(
  entries: readonly T[],
  marker: SegmentMarkerRead,
): Promise<T[]> {
  return ofWinningCopies(
    entries,
    (e) => e.copy,
    async (segment) => keptCopy((await marker(segment))?.state),
  );
}

/** Where a local run's ledger is, when it kept one. */
export interface LocalLedgerSource {
  readonly run?: RunRecord;
  readonly backend: AwsTarget;
  readonly resources: Pick<LocalResources, 'jobTable'>;
  readonly config: Pick<FanoutConfig, 'resultsRetentionDays'>;
}

/**
 * A local run's dead-lettered tasks as read from its DLQ, less a losing segment copy's, each once, less those
 * its ledger says moved. Without a ledger nothing says a copy lost or a task moved. The copies are judged
 * first (a loser's entry must not stand for its task's last failure), and only when some entry carries one.
 * A move check is a read per task, so it is made only when the DLQ holds more tasks than the ledger counts:
 * only then can a listed task be one that moved.
 */
export async function stillDeadLettered<T extends { readonly id: string; readonly copy?: SegmentCopy }>(
  listed: Iterable<T>,
  { run, backend, resources, config }: LocalLedgerSource,
): Promise<T[]> {
  const all = [...listed];
  if (!run) return eachTaskOnce(all);
  const counted = all.some((t) => t.copy)
    ? await withLocalLedger(backend, resources, config, (ledger) =>
        ofWinningCopies(all, (e) => e.copy, runWinnerIn(ledger, run)),
      )
    : all;
  const once = eachTaskOnce(counted);
  if (once.length <= run.deadLettered) return once;
  const ids = once.map((t) => t.id);
  const moved = await withLocalLedger(backend, resources, config, (ledger) =>
    movedAmong(ids, movedIn(ledger, run.jobId, run.runId)),
  );
  return once.filter((t) => !moved.has(t.id));
}
