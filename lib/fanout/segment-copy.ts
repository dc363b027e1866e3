import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { runBounded } from '../run-bounded.js';

// Which copy of an orchestrator segment did something. Lambda may run a segment twice (a retry after a timeout,
// or a copy killed between its settle and its continuation); only the first settle of `segment:<n>` counts
// (functions/orchestrator.ts), so what a copy did on its own (its dead letters, its result part, a paused
// chunk's hand-off) counts only if its settle was that one. Each copy draws an id at its start; it rides on
// those, and the winning settle keeps it on the segment's marker (SegmentEndState.copy), so a reader can tell
// the winner's from a loser's with one read of the marker.

/** A segment's copy: the segment's number and the id the copy drew. */
export interface SegmentCopy {
  readonly segment: number;
  readonly id: string;
}

/** 12 hex characters (48 bits): two copies of one segment drawing the same is out of reach. */
export const SegmentCopySchema = z.strictObject({
  segment: z.number({ error: 'is not a segment number' }).int().min(0, { error: 'is not a segment number' }),
  id: z.string({ error: 'is not a copy id' }).regex(/^[0-9a-f]{1,32}$/, { error: 'is not a copy id' }),
});

/** A new copy id for a segment's invocation. */
export function newCopyId(): string {
  return randomBytes(6).toString('hex');
}

/** The ledger key of a segment's settle: only the first settle of a segment counts. */
export function segmentSettleKey(segment: number): string {
  return `segment:${segment}`;
}

/**
 * What a copy's work is worth, from the segment's marker (`undefined`: the segment is not settled):
 * `won`: the marker names this copy, or names none (written before copies had ids: it cannot tell, and
 * counts it as before); `lost`: the marker names another copy, whose counts are the run's; `unsettled`: no
 * copy has settled the segment yet (or none ever will: it broke), so whether this copy's work counts is open.
 */
export type CopyVerdict = 'won' | 'lost' | 'unsettled';

export function copyVerdict(
  copy: SegmentCopy,
  marker: { readonly state?: unknown } | undefined,
): CopyVerdict {
  if (!marker) return 'unsettled';
  const winner = keptCopy(marker.state);
  // A broken segment's marker (lib/aws/run-break.ts) names no copy: none settled, and none ever will. Its
  // copies' work was never counted, so it is neither run nor dropped (functions/segment-copies.ts decides).
  if (winner === NO_WINNER) return 'unsettled';
  return winner === undefined || winner === copy.id ? 'won' : 'lost';
}

/** The copy id a segment's settle kept with its end, if any. */
export function keptCopy(state: unknown): string | undefined {
  if (state === null || typeof state !== 'object') return undefined;
  const copy = (state as { copy?: unknown }).copy;
  return typeof copy === 'string' ? copy : undefined;
}

/** A reader of a run's settle markers (the job ledger's `settledMarker`). */
export interface MarkerReader {
  settledMarker(jobId: string, runId: string, key: string): Promise<{ readonly state?: unknown } | undefined>;
}

/**
 * The copy whose settle counted for a segment of the run, as `ledger` keeps it: undefined when the segment is
 * not settled, or its marker was kept before copies had ids (nobody can tell then).
 */
export function segmentWinnerIn(ledger: MarkerReader, jobId: string, runId: string) {
  return async (segment: number): Promise<string | undefined> =>
    keptCopy((await ledger.settledMarker(jobId, runId, segmentSettleKey(segment)))?.state);
}

/** What runWinnerIn answers for a broken segment: no copy's id (those are hex), so every copy of it lost. */
export const NO_WINNER = 'none';

/**
 * segmentWinnerIn for a run as its record stands: the segment it was broken at (`brokenSegment`) has no winner,
 * and none ever will (functions/orchestrator-failure.ts), so every copy's dead letters and result lines of it are
 * a loser's: its copies' counts never landed.
 */
export function runWinnerIn(
  ledger: MarkerReader,
  run: { readonly jobId: string; readonly runId: string; readonly brokenSegment?: number },
) {
  const winnerOf = segmentWinnerIn(ledger, run.jobId, run.runId);
  return (segment: number): Promise<string | undefined> =>
    segment === run.brokenSegment ? Promise.resolve(NO_WINNER) : winnerOf(segment);
}

/** Marker reads in flight at once while judging entries. */
const WINNERS_AT_ONCE = 32;

/**
 * `entries` less those of a segment copy whose settle did not count (`winnerOf` names another), in order. An
 * entry of no copy is kept, and one whose segment's winner is not known: no line is lost. One `winnerOf` per
 * segment the entries name, a few at once; none when no entry names a copy.
 */
export async function ofWinningCopies<T>(
  entries: readonly T[],
  copyOf: (entry: T) => SegmentCopy | undefined,
  winnerOf: (segment: number) => Promise<string | undefined>,
): Promise<T[]> {
  const segments = [...new Set(entries.flatMap((e) => copyOf(e)?.segment ?? []))];
  if (segments.length === 0) return [...entries];
  const read = await runBounded(segments, winnerOf, { concurrency: WINNERS_AT_ONCE, stopOnError: true });
  const winners = new Map(
    segments.map((segment, i) => {
      const r = read[i];
      return [segment, r?.status === 'fulfilled' ? r.value : undefined];
    }),
  );
  return entries.filter((e) => {
    const copy = copyOf(e);
    const winner = copy && winners.get(copy.segment);
    return winner === undefined || winner === copy?.id;
  });
}
