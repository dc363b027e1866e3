// Which copy of a segment is the run's (lib/fanout/segment-copy.ts): the one its marker names; for the segment a
// run was broken at, none. Markers read through a reader that counts its calls (a stand-in for the job table's
// settledMarker, named as such: the real store is exercised in test/functions/segment-copies.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NO_WINNER,
  newCopyId,
  ofWinningCopies,
  runWinnerIn,
  type SegmentCopy,
  segmentSettleKey,
} from '../../../lib/fanout/segment-copy.js';
import { RUNS } from '../../helpers/runs.js';

/** Markers by key, as a settle keeps them: `{ state: { copy } }` for a segment's winner. */
function markerReader(winners: ReadonlyMap<number, string>) {
  const reads: string[] = [];
  return {
    reads,
    async settledMarker(_jobId: string, _runId: string, key: string) {
      reads.push(key);
      for (const [segment, copy] of winners)
        if (segmentSettleKey(segment) === key) return { state: { copy } };
      return undefined;
    },
  };
}

describe('runWinnerIn', () => {
  it('names the marker’s copy, none for an unsettled segment, and NO_WINNER for the broken one without a read', async () => {
    const reader = markerReader(new Map([[0, 'aaaaaaaaaaaa']]));
    const winnerOf = runWinnerIn(reader, { jobId: 'j', runId: 'r', brokenSegment: 2 });
    expect(await winnerOf(0)).toBe('aaaaaaaaaaaa');
    expect(await winnerOf(1)).toBeUndefined();
    expect(await winnerOf(2)).toBe(NO_WINNER);
    expect(reader.reads).toEqual(['segment:0', 'segment:1']);
  });

  it('keeps, of a broken run’s entries, every other segment’s winner’s and unknown ones, and none of the broken segment', async () => {
    const entry = fc.record({
      segment: fc.integer({ min: 0, max: 3 }),
      copy: fc.constantFrom('a', 'b', 'c'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(entry, { nil: undefined }), { maxLength: 12 }),
        fc.integer({ min: 0, max: 3 }),
        async (entries, broken) => {
          const ids = { a: newCopyId(), b: newCopyId(), c: newCopyId() };
          const copies = entries.map(
            (e): SegmentCopy | undefined => e && { segment: e.segment, id: ids[e.copy] },
          );
          // Segment 0's winner is a, 1's is b, 3's is not settled; `broken` is the broken one.
          const reader = markerReader(
            new Map([
              [0, ids.a],
              [1, ids.b],
            ]),
          );
          const kept = await ofWinningCopies(
            copies,
            (c) => c,
            runWinnerIn(reader, { jobId: 'j', runId: 'r', brokenSegment: broken }),
          );
          const expected = copies.filter(
            (c) =>
              c === undefined ||
              (c.segment !== broken &&
                (c.segment === 0 ? c.id === ids.a : c.segment === 1 ? c.id === ids.b : true)),
          );
          expect(kept).toEqual(expected);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
