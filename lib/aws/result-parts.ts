// The part objects a run's writers leave under `<prefix><jobId>/<runId>/`: a segment's (`part-<segment>-<copy>-<n>`)
// and a worker message's (`part-w-<key>`), and which of them the run's result object takes. Two copies of a
// segment (a retried invocation) each write their own parts, named by the copy's id (lib/fanout/segment-copy.ts),
// so neither overwrites the other's; only the copy whose settle counted is the run's, and its lines alone go
// into the result object. A segment's winner is one read of its marker, at the run's end only, and only for
// segments that left parts.
import { ofWinningCopies, type SegmentCopy } from '../fanout/segment-copy.js';

export interface PartObject {
  readonly key: string;
  readonly size: number;
}

const pad = (n: number) => String(n).padStart(6, '0');

/** A segment's n-th part's file name; without a copy id, as parts were named before copies had ids. */
export function segmentPartName(segment: number, copy: string | undefined, n: number): string {
  return copy === undefined
    ? `part-${pad(segment)}-${pad(n)}.ndjson`
    : `part-${pad(segment)}-${copy}-${pad(n)}.ndjson`;
}

/** The segment and copy that wrote a part; undefined for a worker's part, or a segment's named before copy ids. */
export function partCopy(key: string): { readonly segment: number; readonly copy: string } | undefined {
  const match = /\/part-(\d{6,})-([0-9a-f]+)-\d{6,}\.ndjson$/.exec(key);
  return match ? { segment: Number(match[1]), copy: match[2] } : undefined;
}

/** The segment copy that wrote the part at `key`, as ofWinningCopies takes it. */
function copyOfPart(key: string): SegmentCopy | undefined {
  const from = partCopy(key);
  return from && { segment: from.segment, id: from.copy };
}

/**
 * The parts the result object takes, in order: every worker's and every part named before copy ids, and of a
 * segment's copies only the winner's (`winnerOf`: the copy its marker names). A segment whose winner is not
 * known (no marker, one kept before copy ids, or no `winnerOf`) keeps every copy's: no line is lost.
 */
export async function winningParts(
  parts: readonly PartObject[],
  winnerOf?: (segment: number) => Promise<string | undefined>,
): Promise<PartObject[]> {
  return winnerOf ? ofWinningCopies(parts, (p) => copyOfPart(p.key), winnerOf) : [...parts];
}

/** winningParts of part keys alone. */
export async function winningPartKeys(
  keys: readonly string[],
  winnerOf?: (segment: number) => Promise<string | undefined>,
): Promise<string[]> {
  return winnerOf ? ofWinningCopies(keys, copyOfPart, winnerOf) : [...keys];
}
