import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { segmentSettleKey } from '../../../lib/fanout/segment-copy.js';
import { markerRetentionDays, movedAsOf, movedKey, movedState } from '../../../lib/ledger/ledger-keys.js';
import { JobIdSchema } from '../../../lib/manifest/schema.js';
import { RUNS } from '../../helpers/runs.js';

describe('movedKey', () => {
  it('keeps a short id readable and hashes a long one into a key DynamoDB takes', () => {
    expect(movedKey('t-1')).toBe('#moved:t-1');
    const long = '\u{1F600}'.repeat(256); // 1,024 UTF-8 bytes
    expect(movedKey(long)).toMatch(/^#moved#[A-Za-z0-9_-]{43}$/);
    expect(movedKey(long)).not.toBe(movedKey(`${long.slice(0, -2)}x`));
    expect(movedKey('a'.repeat(256))).toBe(`#moved:${'a'.repeat(256)}`);
    expect(movedKey('a'.repeat(257))).toMatch(/^#moved#/);
  });

  it('is never the key of a unit of work, which starts with a job id or `segment:`', () => {
    // A job id `moved` with run `r1` names its first message `moved:r1:0`: a task id `r1:0` must not reach it.
    expect(movedKey('r1:0')).not.toBe('moved:r1:0');
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 300 }),
        fc.string({ maxLength: 20 }),
        (taskId, jobId) => {
          const key = movedKey(taskId);
          expect(key.startsWith('#')).toBe(true);
          // No job id starts with `#`, so no `<jobId>:...` key is a move's.
          expect(JobIdSchema.safeParse(`#${jobId}`).success).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('markerRetentionDays', () => {
  it('keeps a move and a segment 14 days (the DLQ’s retention) longer than any other marker', () => {
    expect(markerRetentionDays(movedKey('t1'), 30)).toBe(44);
    expect(markerRetentionDays(movedKey('t'.repeat(300)), 1)).toBe(15);
    expect(markerRetentionDays('job:run:0', 30)).toBe(30);
    // A segment's judges its copies' dead letters (functions/segment-copies.ts): kept as long as a move's.
    expect(markerRetentionDays(segmentSettleKey(3), 7)).toBe(21);
    expect(markerRetentionDays('job:run:0!handed', 7)).toBe(7);
  });
});

describe('a move marker’s state', () => {
  it('reads back where the task went; a marker that keeps none, or anything else, is unknown', () => {
    for (const as of ['succeeded', 'cancelled', 'undeliverable'] as const)
      expect(movedAsOf(movedState(as))).toBe(as);
    for (const state of [undefined, null, {}, { movedAs: 'deadLettered' }, { movedAs: 1 }, 'undeliverable']) {
      expect(movedAsOf(state)).toBe('unknown');
    }
  });
});
