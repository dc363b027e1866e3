// Which dead-lettered tasks a report lists: each task once, and only those the ledger still counts
// failed. A dead letter can be found twice (SQS sends at least once; a redrive can leave a copy behind;
// a redriven task that fails again is dead-lettered anew), while the ledger counts each task once: its settle
// is keyed by message, and a redriven task that now ended otherwise leaves `deadLettered` under a move key of
// its own (lib/ledger/ledger-keys.ts movedKey, functions/worker-hand-on.ts), whose marker says where it went.
// Neither the DLQ nor the result object forgets a task that moved, so the list is checked against those keys.
import type { FanoutConfig } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { type MovedAs, movedAsOf, movedKey } from '../../lib/ledger/ledger-keys.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
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
  for (let i = 0; i < ids.length; i += CHECKS_AT_ONCE) {
    const slice = ids.slice(i, i + CHECKS_AT_ONCE);
    const found = await Promise.all(slice.map((id) => moved(id)));
    slice.forEach((id, j) => {
      const as = found[j];
      if (as) out.set(id, as);
    });
  }
  return out;
}

/** Where a local run's ledger is, when it kept one. */
export interface LocalLedgerSource {
  readonly run?: RunRecord;
  readonly backend: AwsTarget;
  readonly resources: Pick<LocalResources, 'jobTable'>;
  readonly config: Pick<FanoutConfig, 'resultsRetentionDays'>;
}

/**
 * A local run's dead-lettered tasks as read from its DLQ, each once, less those its ledger says moved. Without
 * a ledger nothing says a task moved. A move check is a read per task, so it is made only when the DLQ holds
 * more tasks than the ledger counts: only then can a listed task be one that moved.
 */
export async function stillDeadLettered<T extends { readonly id: string }>(
  listed: Iterable<T>,
  { run, backend, resources, config }: LocalLedgerSource,
): Promise<T[]> {
  const once = eachTaskOnce(listed);
  if (!run || once.length <= run.deadLettered) return once;
  const ids = once.map((t) => t.id);
  const moved = await withLocalLedger(backend, resources, config, (ledger) =>
    movedAmong(ids, movedIn(ledger, run.jobId, run.runId)),
  );
  return once.filter((t) => !moved.has(t.id));
}
