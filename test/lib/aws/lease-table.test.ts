// The DynamoDB lease store against the backend's DynamoDB (dynalite locally) through the real SDK: racing
// takers never push a host past its cap, expired leases come back to the next taker, a holder whose lease
// was taken back is told `lost`, and over random operations the count always equals the live leases' sum.
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseTable } from '../../../lib/aws/lease-table.js';
import { RateSlices } from '../../../lib/aws/rate-slices.js';
import { freshJobTable } from '../../local/fixtures/aws.js';

let client: DynamoDBClient;
let store: LeaseTable;
let tableName: string;
const TTL = 30_000;
const newHost = () => `h-${randomBytes(4).toString('hex')}.test`;

beforeAll(async () => {
  ({ client, tableName } = await freshJobTable('lease'));
  store = new LeaseTable(client, { tableName });
});
afterAll(() => client?.destroy());

describe('LeaseTable', () => {
  it('refuses a missing table name with the option and the value', () => {
    expect(() => new LeaseTable(client, { tableName: '' })).toThrow(
      'Expected `tableName` to be a table name, got ""',
    );
  });

  it('N racing takers never hold more than the cap, and the count is their sum', async () => {
    const host = newHost();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        store.take({ host, holder: `p${i}`, version: 0, now: 1_000, ttlMs: TTL, permits: 4, cap: 10 }),
      ),
    );
    const granted = answers.reduce((sum, a) => sum + (a.ok ? a.permits : 0), 0);
    expect(granted).toBe(10);
    expect(await store.inUse(host)).toBe(10);
  });

  it('gives permits back, renews, and a lease left with none is removed', async () => {
    const host = newHost();
    const base = { host, holder: 'a', now: 1_000, ttlMs: TTL };
    const taken = await store.take({ ...base, version: 0, permits: 5, cap: 8 });
    expect(taken).toEqual({ ok: true, permits: 5, version: 1, expiresAt: 31_000 });
    const renewed = await store.take({ ...base, now: 2_000, version: 1, permits: 0, cap: 8 });
    expect(renewed).toEqual({ ok: true, permits: 5, version: 2, expiresAt: 32_000 });
    expect(await store.give({ ...base, version: 2, permits: 3 })).toEqual({
      ok: true,
      permits: 2,
      version: 3,
      expiresAt: 31_000,
    });
    expect(await store.give({ ...base, version: 3, permits: 2 })).toEqual({
      ok: true,
      permits: 0,
      version: 0,
      expiresAt: 1_000,
    });
    expect(await store.inUse(host)).toBe(0);
  });

  it('an expired lease comes back to the next taker, and its thawed holder is told lost', async () => {
    const host = newHost();
    await store.take({ host, holder: 'frozen', version: 0, now: 0, ttlMs: TTL, permits: 6, cap: 6 });
    const early = await store.take({
      host,
      holder: 'b',
      version: 0,
      now: TTL,
      ttlMs: TTL,
      permits: 6,
      cap: 6,
    });
    expect(early).toMatchObject({ ok: true, permits: 0 });
    const late = await store.take({
      host,
      holder: 'b',
      version: 0,
      now: TTL + 1,
      ttlMs: TTL,
      permits: 6,
      cap: 6,
    });
    expect(late).toMatchObject({ ok: true, permits: 6 });
    expect(await store.inUse(host)).toBe(6);
    const thawed = { host, holder: 'frozen', version: 1, now: TTL + 2, ttlMs: TTL };
    expect(await store.take({ ...thawed, permits: 0, cap: 6 })).toEqual({ ok: false, lost: true });
    expect(await store.give({ ...thawed, permits: 6 })).toEqual({ ok: false, lost: true });
    expect(await store.inUse(host)).toBe(6);
  });

  it('two takers reclaiming the same dead lease count its permits back once', async () => {
    const host = newHost();
    await store.take({ host, holder: 'dead', version: 0, now: 0, ttlMs: TTL, permits: 4, cap: 4 });
    const answers = await Promise.all(
      ['x', 'y', 'z'].map((holder) =>
        store.take({ host, holder, version: 0, now: TTL + 1, ttlMs: TTL, permits: 4, cap: 4 }),
      ),
    );
    expect(answers.reduce((sum, a) => sum + (a.ok ? a.permits : 0), 0)).toBe(4);
    expect(await store.inUse(host)).toBe(4);
  });

  it('over random operations the count never passes the cap, and every permit comes back', async () => {
    const op = fc.record({
      holder: fc.constantFrom('a', 'b', 'c'),
      give: fc.boolean(),
      permits: fc.integer({ min: 0, max: 5 }),
      advance: fc.integer({ min: 0, max: 20_000 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const host = newHost();
        const versions = new Map<string, number>();
        let now = 0;
        for (const o of ops) {
          now += o.advance;
          const request = { host, holder: o.holder, version: versions.get(o.holder) ?? 0, now, ttlMs: TTL };
          const answer = o.give
            ? await store.give({ ...request, permits: o.permits })
            : await store.take({ ...request, permits: o.permits, cap: 7 });
          versions.set(o.holder, answer.ok ? answer.version : 0);
          expect(await store.inUse(host)).toBeLessThanOrEqual(7);
        }
        // Every holder still holding gives all back (a lost one was reclaimed), then one process takes the cap.
        for (const [holder, version] of versions)
          if (version > 0) await store.give({ host, holder, version, now, ttlMs: TTL, permits: 7 });
        expect(await store.inUse(host)).toBe(0);
        const last = { host, holder: 'last', version: 0, now: now + TTL + 1, ttlMs: TTL, permits: 7, cap: 7 };
        expect(await store.take(last)).toMatchObject({ ok: true, permits: 7 });
      }),
      { numRuns: 15 },
    );
  });
});

describe('RateSlices', () => {
  it('racing processes take no more than the slice limit, a short block is cut to what is left', async () => {
    const rates = new RateSlices(client, { tableName });
    const host = newHost();
    const granted = await Promise.all(
      Array.from({ length: 8 }, () => rates.takeTokens({ host, slice: 7, tokens: 4, limit: 10 })),
    );
    expect(granted.reduce((a, b) => a + b, 0)).toBe(10);
    expect(await rates.takeTokens({ host, slice: 7, tokens: 1, limit: 10 })).toBe(0);
    expect(await rates.takeTokens({ host, slice: 8, tokens: 4, limit: 10 })).toBe(4);
    expect(() => new RateSlices(client, { tableName: '' })).toThrow(
      'Expected `tableName` to be a table name, got ""',
    );
  });
});
