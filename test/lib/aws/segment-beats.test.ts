// A segment's heartbeat on the real job table (lib/aws/segment-beats.ts): the first beat, written before an
// attempt claims its segment, is written only where none is, so a copy arriving beside a holder, live or dead,
// never makes it look alive; later beats move it on. As a property over random orders of first beats and beats.
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegmentBeats } from '../../../lib/aws/segment-beats.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { freshJobTable } from '../../local/fixtures/aws.js';

let client: DynamoDBClient;
let beats: SegmentBeats;

beforeAll(async () => {
  const fresh = await freshJobTable('beats');
  client = fresh.client;
  beats = new SegmentBeats(client, { tableName: fresh.tableName });
});
afterAll(() => client?.destroy());

const newIds = (segment = 0) => ({ jobId: `job-${randomBytes(4).toString('hex')}`, runId: 'r', segment });

describe('SegmentBeats', () => {
  it('refuses a missing table name, naming the option', () => {
    expect(() => new SegmentBeats(client, { tableName: '' })).toThrow(InvalidArgumentError);
    expect(() => new SegmentBeats(client, { tableName: '' })).toThrow(/tableName/);
  });

  it('writes the first beat only where none is; later beats move it on; other segments are their own', async () => {
    const ids = newIds(3);
    expect(await beats.lastBeat(ids)).toBeUndefined();
    expect(await beats.firstBeat(ids, 1_000)).toBe(true);
    expect(await beats.lastBeat(ids)).toBe(1_000);
    // A copy arriving later (beside a live holder or a dead one) keeps the beat as it is.
    expect(await beats.firstBeat(ids, 9_000)).toBe(false);
    expect(await beats.lastBeat(ids)).toBe(1_000);
    await beats.beat(ids, 2_000);
    expect(await beats.lastBeat(ids)).toBe(2_000);
    expect(await beats.firstBeat(ids, 9_000)).toBe(false);
    expect(await beats.lastBeat(ids)).toBe(2_000);
    expect(await beats.lastBeat({ ...ids, segment: 4 })).toBeUndefined();
  });

  it('the last beat is the first beat if nothing beat since, else the last plain beat, in any order', async () => {
    const step = fc.record({ first: fc.boolean(), at: fc.integer({ min: 1, max: 1e12 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        const ids = newIds();
        let expected: number | undefined;
        for (const { first, at } of steps) {
          if (first) {
            const wrote = await beats.firstBeat(ids, at);
            expect(wrote).toBe(expected === undefined);
            if (wrote) expected = at;
          } else {
            await beats.beat(ids, at);
            expected = at;
          }
          expect(await beats.lastBeat(ids)).toBe(expected);
        }
      }),
      { numRuns: 40 },
    );
  });
});
