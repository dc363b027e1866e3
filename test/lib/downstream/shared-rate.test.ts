// A shared host's rate on the fleet's token bucket (issue 17): several processes' SharedRates on the DynamoDB
// rate store (dynalite locally, the real SDK), on one injected clock, each asking for a token every 10 ms of
// virtual time. Requests are counted per wall-clock slice: the fleet never passes a slice's tokens, uses
// (nearly) all of them, and never lets more than two slices' worth go in any one second (the stated burst).
// No wall-clock timing: the virtual clock moves only after every store call in flight has been answered.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateSlices } from '../../../lib/aws/rate-slices.js';
import type { RateStore } from '../../../lib/downstream/lease-store.js';
import { fleetRateBurst } from '../../../lib/downstream/shared-host-bound.js';
import { RATE_SLICE_MS, rateSliceTokens, SharedRate } from '../../../lib/downstream/shared-rate.js';
import { freshJobTable } from '../../local/fixtures/aws.js';
import { FakeClock } from './fake-clock.js';

const EPOCH = 1_700_000_000_000;
const STEP_MS = 10;

/** Passes calls through to `store`, keeping the ones in flight so the test can wait for their answers. */
class Awaited implements RateStore {
  readonly inFlight = new Set<Promise<unknown>>();
  constructor(readonly store: RateStore) {}
  takeTokens(r: Parameters<RateStore['takeTokens']>[0]): Promise<number> {
    const call = this.store.takeTokens(r);
    const tracked = call.catch(() => undefined);
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    return call;
  }
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** `processes` SharedRates at `rate` ask for a token every step for `slices` slices; grants per virtual ms. */
async function runFleet(store: RateStore, host: string, rate: number, processes: number, slices: number) {
  const clock = new FakeClock();
  const awaited = new Awaited(store);
  const wallNow = () => EPOCH + clock.now();
  const fleet = Array.from(
    { length: processes },
    () =>
      new SharedRate({
        store: awaited,
        host,
        requestsPerSecond: rate,
        clock,
        wallNow,
        fallback: () => 1_000,
      }),
  );
  const grants: number[] = [];
  for (let t = 0; t < slices * RATE_SLICE_MS; t += STEP_MS) {
    for (const p of fleet) while (p.take() === 0) grants.push(wallNow());
    await awaited.settle();
    clock.advance(STEP_MS);
  }
  expect(fleet.some((p) => p.fallback)).toBe(false);
  return grants;
}

function perSlice(grants: readonly number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const at of grants) {
    const slice = Math.floor(at / RATE_SLICE_MS);
    counts.set(slice, (counts.get(slice) ?? 0) + 1);
  }
  return counts;
}

/** The most grants in any window of `windowMs` (grants fall on step boundaries). */
function peakWindow(grants: readonly number[], windowMs: number): number {
  const sorted = [...grants].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= windowMs) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return peak;
}

describe('SharedRate on the DynamoDB rate store', () => {
  let client: DynamoDBClient;
  let tableName: string;
  beforeAll(async () => {
    ({ client, tableName } = await freshJobTable('rate'));
  });
  afterAll(() => client?.destroy());

  it('five processes at 40/s: each slice at most 40 and at least 36; any second at most two slices worth', async () => {
    const rate = 40;
    const store = new RateSlices(client, { tableName });
    const grants = await runFleet(store, 'rate.example', rate, 5, 4);
    const counts = perSlice(grants);
    expect(counts.size).toBe(4);
    for (const n of counts.values()) {
      expect(n).toBeLessThanOrEqual(rateSliceTokens(rate));
      expect(n).toBeGreaterThanOrEqual(0.9 * rateSliceTokens(rate));
    }
    expect(peakWindow(grants, 1_000)).toBeLessThanOrEqual(fleetRateBurst(rate));
    // Blocks of 5 (an eighth of a slice's 40): about 8 writes a slice, far below one per request.
    console.log(`rate store: ${store.writes} writes for ${grants.length} requests`);
    expect(store.writes).toBeLessThan(grants.length / 2);
  });
});

describe('SharedRate when the store fails', () => {
  it('runs on the static share (the fallback limiter), says so once, and comes back when the store answers', async () => {
    const clock = new FakeClock();
    let down = true;
    let taken = 0;
    const store: RateStore = {
      // A test double: refuses while `down`, else grants what is asked.
      takeTokens: async (r) => {
        if (down) throw new Error('store down');
        taken += r.tokens;
        return r.tokens;
      },
    };
    const events: string[] = [];
    let staticCalls = 0;
    const shared = new SharedRate({
      store,
      host: 'h',
      requestsPerSecond: 16,
      clock,
      wallNow: () => EPOCH + clock.now(),
      fallback: () => (staticCalls++ % 2 === 0 ? 0 : 250),
      retryMs: 1_000,
      onFallback: (host, error) => events.push(`fallback ${host} ${(error as Error).message}`),
      onRecover: (host) => events.push(`recover ${host}`),
    });
    expect(shared.take()).toBeGreaterThan(0); // asks the store
    await new Promise((resolve) => setImmediate(resolve));
    expect(shared.fallback).toBe(true);
    // The static share decides now: every other call lets one go.
    expect([shared.take(), shared.take(), shared.take()]).toEqual([0, 250, 0]);
    down = false;
    clock.advance(1_000);
    shared.take(); // the retry is due: asks the store again
    await new Promise((resolve) => setImmediate(resolve));
    expect(shared.fallback).toBe(false);
    expect(events).toEqual(['fallback h store down', 'recover h']);
    expect(taken).toBe(2); // a block of 2 (an eighth of 16)
    expect([shared.take(), shared.take()]).toEqual([0, 0]);
  });
});
