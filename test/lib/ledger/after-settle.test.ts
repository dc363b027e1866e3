// announceEnded's order, whichever of its writes fail: the event only after the result object, `announcedAt`
// only after both, every failure reported. The ledger and the writers are test doubles that record calls
// (the real store's markAnnounced is in test/lib/aws/job-ledger-table.test.ts, the whole path in
// test/functions/ledger.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AfterSettlePorts, announceEnded, unannounced } from '../../../lib/ledger/after-settle.js';
import type { JobLedger } from '../../../lib/ledger/job-ledger.js';
import { type RunRecord, zeroCounts } from '../../../lib/ledger/run-record.js';
import { RUNS } from '../../helpers/runs.js';

const ended: RunRecord = {
  ...zeroCounts(),
  jobId: 'j',
  runId: 'r',
  status: 'succeeded',
  startedAt: 1,
  finishedAt: 2,
  manifestDone: true,
  toleratedFailurePercent: 0,
  version: 1,
};

/** Ports whose writes fail as `fails` says, recording what was called, in order. */
function ports(fails: { result: boolean; event: boolean; mark: boolean }, calls: string[]) {
  const step = (name: string, fail: boolean) => async () => {
    calls.push(name);
    if (fail) throw new Error(`${name} failed`);
  };
  const errors: string[] = [];
  const ledger = { markAnnounced: step('announcedAt', fails.mark) } as unknown as JobLedger;
  const p: AfterSettlePorts = {
    ledger,
    writeResult: step('result', fails.result),
    announce: step('event', fails.event),
    onError: (what) => void errors.push(what),
  };
  return { p, errors };
}

describe('announceEnded', () => {
  it('writes the event only after the result, notes it only after both, and reports each failure', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ result: fc.boolean(), event: fc.boolean(), mark: fc.boolean() }),
        async (fails) => {
          const calls: string[] = [];
          const { p, errors } = ports(fails, calls);
          const all = await announceEnded(ended, p);
          const expected = ['result', 'event', 'announcedAt'];
          const stop = fails.result ? 1 : fails.event ? 2 : 3;
          expect(calls).toEqual(expected.slice(0, stop));
          expect(errors).toEqual(fails.result || fails.event || fails.mark ? [calls[calls.length - 1]] : []);
          expect(all).toBe(!fails.result && !fails.event && !fails.mark);
        },
      ),
      { numRuns: Math.min(RUNS, 100) },
    );
  });

  it('with no bucket and no bus (no writers) notes the run at once', async () => {
    const calls: string[] = [];
    const { p } = ports({ result: false, event: false, mark: false }, calls);
    expect(await announceEnded(ended, { ledger: p.ledger })).toBe(true);
    expect(calls).toEqual(['announcedAt']);
  });
});

describe('unannounced', () => {
  it('is an ended run without announcedAt, nothing else', () => {
    expect(unannounced(ended)).toBe(true);
    expect(unannounced({ ...ended, announcedAt: 3 })).toBe(false);
    expect(unannounced({ ...ended, finishedAt: undefined })).toBe(false);
    expect(unannounced(undefined)).toBe(false);
  });
});
