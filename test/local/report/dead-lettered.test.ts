// Which of a run's DLQ entries its local report lists (local/report/dead-lettered.ts): a losing segment copy's
// dead letters are left out, judged by the segment's marker read once per segment, and one of no copy, of a
// segment not settled yet, or of a marker naming no copy is kept. As a property over entries and markers
// (the markers a plain map, read through the same SegmentMarkerRead the ledger's reads go through), and
// stillDeadLettered with entries of no copy opens no ledger at all. The handlers' end to end:
// segment-copy-dead-letters.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RunRecord, RunStatuses } from '../../../lib/ledger/run-record.js';
import { lessLosingCopies, stillDeadLettered } from '../../../local/report/dead-lettered.js';

const copyIds = ['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'cccccccccccc'];

/** A segment's marker: none (unsettled), one naming no copy (before copies had ids), or one naming a copy. */
const markerArb = fc.oneof(
  fc.constant(undefined),
  fc.constant({ state: { sequence: 1 } }),
  fc.constantFrom(...copyIds).map((copy) => ({ state: { copy } })),
);

const entryArb = fc.record(
  {
    id: fc.constantFrom('t0', 't1', 't2', 't3'),
    copy: fc.record({ segment: fc.integer({ min: 0, max: 4 }), id: fc.constantFrom(...copyIds) }),
  },
  { requiredKeys: ['id'] },
);

describe('lessLosingCopies', () => {
  it('drops exactly the entries whose segment’s marker names another copy, one read per segment', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entryArb, { maxLength: 30 }),
        fc.array(markerArb, { minLength: 5, maxLength: 5 }),
        async (entries, markers) => {
          const reads: number[] = [];
          const kept = await lessLosingCopies(entries, async (segment) => {
            reads.push(segment);
            return markers[segment];
          });
          const lost = (e: (typeof entries)[number]) => {
            const winner = (markers[e.copy?.segment ?? -1]?.state as { copy?: string } | undefined)?.copy;
            return e.copy !== undefined && winner !== undefined && winner !== e.copy.id;
          };
          expect(kept).toEqual(entries.filter((e) => !lost(e)));
          const segments = new Set(entries.flatMap((e) => (e.copy ? [e.copy.segment] : [])));
          expect(reads.sort()).toEqual([...segments].sort());
        },
      ),
    );
  });
});

describe('stillDeadLettered', () => {
  const run: RunRecord = {
    jobId: 'j',
    runId: 'r',
    status: RunStatuses.SUCCEEDED,
    startedAt: 1_000,
    manifestDone: true,
    toleratedFailurePercent: 100,
    version: 1,
    submitted: 3,
    succeeded: 1,
    deadLettered: 2,
    undeliverable: 0,
    invalid: 0,
    cancelled: 0,
  };
  // Nothing listens on port 1: a read of the ledger would fail the call.
  const nowhere = {
    run,
    backend: {
      region: 'us-east-1',
      endpoints: { sqs: 'http://127.0.0.1:1', s3: 'http://127.0.0.1:1', dynamodb: 'http://127.0.0.1:1' },
    },
    resources: { jobTable: 'absent' },
    config: { resultsRetentionDays: 1 },
  };

  it('reads nothing when no entry carries a copy and the DLQ holds no more tasks than the ledger counts', async () => {
    const entries = [
      { id: 'a', error: 'first' },
      { id: 'b', error: 'only' },
      { id: 'a', error: 'last' },
    ];
    expect(await stillDeadLettered(entries, nowhere)).toEqual([
      { id: 'a', error: 'last' },
      { id: 'b', error: 'only' },
    ]);
  });

  it('reads the ledger when an entry carries a copy (here: nowhere to read it, so it fails)', async () => {
    const entries = [{ id: 'a', copy: { segment: 0, id: copyIds[0] } }];
    await expect(stillDeadLettered(entries, nowhere)).rejects.toThrow();
  });

  it('without a ledger keeps every copy’s entry: nothing says which copy counted', async () => {
    const entries = [
      { id: 'a', copy: { segment: 0, id: copyIds[0] } },
      { id: 'b', copy: { segment: 0, id: copyIds[1] } },
    ];
    expect(await stillDeadLettered(entries, { ...nowhere, run: undefined })).toEqual(entries);
  });
});
