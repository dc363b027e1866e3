import { describe, expect, it } from 'vitest';
import { partCopy, segmentPartName, winningParts } from '../../../lib/aws/result-parts.js';

// Which parts a run's result object takes (lib/aws/result-parts.ts): of a segment's copies only the winner's,
// and everything it cannot tell (a worker's part, a part named before copy ids, a segment with no known winner).

const at = (name: string) => ({ key: `results/job/run/${name}`, size: 1 });

describe('result parts', () => {
  it('names a copy’s parts apart, and reads the segment and copy back', () => {
    expect(segmentPartName(3, 'ab12', 7)).toBe('part-000003-ab12-000007.ndjson');
    expect(segmentPartName(3, undefined, 7)).toBe('part-000003-000007.ndjson');
    expect(partCopy(at(segmentPartName(3, '0123456789ab', 0)).key)).toEqual({
      segment: 3,
      copy: '0123456789ab',
    });
    expect(partCopy(at('part-000003-000007.ndjson').key)).toBeUndefined();
    expect(partCopy(at('part-w-job%3Arun%3A5.ndjson').key)).toBeUndefined();
  });

  it('keeps the winner’s parts of each segment, every worker part and every part it cannot judge', async () => {
    const parts = [
      at(segmentPartName(0, 'aaaa', 0)),
      at(segmentPartName(0, 'aaaa', 1)),
      at(segmentPartName(0, 'bbbb', 0)),
      at(segmentPartName(1, 'cccc', 0)),
      at(segmentPartName(1, 'dddd', 0)),
      at(segmentPartName(2, undefined, 0)),
      at('part-w-job%3Arun%3A5.ndjson'),
    ];
    const asked: number[] = [];
    const winners = new Map([[0, 'bbbb']]);
    const kept = await winningParts(parts, async (segment) => {
      asked.push(segment);
      return winners.get(segment);
    });
    expect(kept.map((p) => p.key.slice(p.key.lastIndexOf('/') + 1))).toEqual([
      'part-000000-bbbb-000000.ndjson',
      // Segment 1's winner is not known (no marker): both copies' lines stay, none is lost.
      'part-000001-cccc-000000.ndjson',
      'part-000001-dddd-000000.ndjson',
      'part-000002-000000.ndjson',
      'part-w-job%3Arun%3A5.ndjson',
    ]);
    // One look per segment that left copy-named parts.
    expect(asked).toEqual([0, 1]);
    expect(await winningParts(parts)).toEqual(parts);
  });
});
