// Per orchestrator segment, the tasks of its queued messages that the workers have settled: `tally:<n>` on the
// run record (the store's own attributes, not the port's RunRecord), added by every worker settle in the same
// update as its counts, so a tally never disagrees with them.
//
// Why: a segment counts what it read `submitted` only when it settles, one write per segment; the workers
// settle its messages as they go, often before that. When a segment fails its every attempt (Lambda's
// on-failure destination reports it: functions/orchestrator-failure.ts) it never settles, and the tasks the
// workers counted for it would stay above `submitted` for good: the run would never complete. A broken run's
// record names the segment (`brokenSegment`), and the port's RunRecord counts that segment's tally as
// `submitted` (`adopted`). Read at once from one item, so no settle can slip between the tally and the counts:
// whatever the workers settle of the broken segment later adds to both sides alike. Its messages still queued
// when the run ends settle after it (cancelled: the run is no longer live), and are counted then.
import type { CountDelta, RunRecord } from '../ledger/run-record.js';
import { zeroCounts } from '../ledger/run-record.js';
import { settledCount } from '../ledger/run-rules.js';

const TALLY_PREFIX = 'tally:';

export function tallyAttribute(segment: number): string {
  return `${TALLY_PREFIX}${segment}`;
}

export function isTallyAttribute(name: string): boolean {
  return name.startsWith(TALLY_PREFIX);
}

/** Per segment, what the settles that name one end of its tasks (moves between counts end none). */
export function segmentTallies(
  settles: readonly { readonly segment?: number; readonly delta?: CountDelta }[],
): Map<number, number> {
  const tallies = new Map<number, number>();
  for (const { segment, delta } of settles) {
    if (segment === undefined) continue;
    const ended = settledCount({ ...zeroCounts(), ...delta });
    if (ended !== 0) tallies.set(segment, (tallies.get(segment) ?? 0) + ended);
  }
  return tallies;
}

/** The ADD clauses of `tallies`, with their names and values, for a settle's counts update. */
export function tallyAdds(tallies: ReadonlyMap<number, number> | undefined) {
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  const adds: string[] = [];
  for (const [segment, ended] of tallies ?? []) {
    if (ended === 0) continue;
    names[`#tally${segment}`] = tallyAttribute(segment);
    values[`:tally${segment}`] = ended;
    adds.push(`#tally${segment} :tally${segment}`);
  }
  return { names, values, adds };
}

/**
 * The broken segment's tally as `adopted`, added to `submitted` (see above); a record of a run that is not
 * broken as it is. `item` is the stored item, tallies and all.
 */
export function withAdopted(record: RunRecord, item: Readonly<Record<string, unknown>>): RunRecord {
  const broken = record.brokenSegment;
  if (typeof broken !== 'number') return record;
  const tally = item[tallyAttribute(broken)];
  const adopted = typeof tally === 'number' ? tally : 0;
  return { ...record, adopted, submitted: record.submitted + adopted };
}

/** `submitted` as stored: without the broken segment's adopted tasks. */
export function storedSubmitted(record: RunRecord): number {
  return record.submitted - (record.adopted ?? 0);
}
