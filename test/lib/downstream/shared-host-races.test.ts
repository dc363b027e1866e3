// The races a slow lease store opens (issue 17: the cap-30 CLI run saw two 429s under load), pinned on a
// manual clock with a store whose answers the test releases by hand. The store under it is the reference
// MemoryLeaseStore; "the fleet" is what the store counts for the other processes plus this process's requests.
// - A give-back in flight: its permits may already be another process's, so no request may start on them.
// - A take that times out may still land: the fallback's static share must not start while a lease this process
//   wrote could still be live in the store (it would come on top of permits counted as ours), only after it
//   expires; permits of the lease it still holds with a live grant stay usable meanwhile.
import { describe, expect, it } from 'vitest';
import { FleetLease } from '../../../lib/downstream/fleet-lease.js';
import { type LeaseAnswer, type LeaseStore, MemoryLeaseStore } from '../../../lib/downstream/lease-store.js';
import { SharedHost, ShareModes } from '../../../lib/downstream/shared-host.js';
import { FakeClock, flush } from './fake-clock.js';

const HOST = 'partner.example';
const TTL = 4_000;
const SKEW = 100;

/** A test double over the reference store: while `hold` is set, calls wait until the test lets them go. */
class HeldStore implements LeaseStore {
  readonly memory = new MemoryLeaseStore();
  hold = false;
  readonly #waiting: (() => void)[] = [];

  take(r: Parameters<LeaseStore['take']>[0]): Promise<LeaseAnswer> {
    return this.#gate(() => this.memory.take(r));
  }

  give(r: Parameters<LeaseStore['give']>[0]): Promise<LeaseAnswer> {
    return this.#gate(() => this.memory.give(r));
  }

  /** Lets every held call reach the store now. */
  release(): void {
    for (const go of this.#waiting.splice(0)) go();
  }

  get held(): number {
    return this.#waiting.length;
  }

  #gate(call: () => Promise<LeaseAnswer>): Promise<LeaseAnswer> {
    if (!this.hold) return call();
    return new Promise((resolve, reject) => this.#waiting.push(() => call().then(resolve, reject)));
  }
}

describe('FleetLease: a give-back in flight', () => {
  it('refuses starts on the given-back permits while the give is unanswered', async () => {
    const clock = new FakeClock();
    const store = new HeldStore();
    const lease = new FleetLease({
      store,
      host: HOST,
      holder: 'p',
      cap: 6,
      block: 6,
      ttlMs: TTL,
      skewMs: SKEW,
      maxHoldMs: 1_000,
      clock,
    });
    lease.want(6);
    await lease.sync();
    lease.tryStart();
    lease.want(1);
    store.hold = true;
    const give = lease.sync();
    await flush();
    // Unanswered: the 5 permits may be someone else's already.
    let started = 0;
    while (lease.tryStart()) started++;
    expect(started).toBe(0);
    store.release();
    await give;
    expect(lease.held).toBe(1);
  });
});

describe('SharedHost: a take that times out', () => {
  function host(clock: FakeClock, store: LeaseStore) {
    return new SharedHost({
      store,
      host: HOST,
      holder: 'p',
      cap: 30,
      block: 4,
      ttlMs: TTL,
      skewMs: SKEW,
      maxHoldMs: 1_000,
      clock,
      wallNow: () => 1_700_000_000_000 + clock.now(),
      staticLimit: 2,
      storeTimeoutMs: 500,
      retryMs: 1_000,
    });
  }

  it('adds no static share while the lease it may have written could be live; the late grant is used', async () => {
    const clock = new FakeClock();
    const store = new HeldStore();
    const shared = host(clock, store);
    store.hold = true;
    shared.want(10);
    await flush();
    clock.advance(500); // the take times out: fallback
    await flush();
    expect(shared.fallback).toBe(true);
    // The take is still on its way and may land: the static share must wait for its lease to expire.
    expect(shared.holdMs()).toBeGreaterThan(0);
    // It lands late: its answer says the store answers again (no probe needed), and the process takes its
    // blocks on from there; every request runs on permits the store counts as ours, none on the static share.
    store.hold = false;
    store.release();
    await flush();
    expect(shared.fallback).toBe(false);
    expect(shared.lease.held).toBe(10);
    let leased = 0;
    while (shared.holdMs() === 0) {
      expect(shared.start()).toBe(ShareModes.LEASE);
      leased++;
    }
    expect(leased).toBe(10);
    expect(store.memory.inUse(HOST)).toBe(10);
    shared.close();
  });

  it('with the store gone for good, the static share starts only once no lease of ours can be live', async () => {
    const clock = new FakeClock();
    const store = new HeldStore();
    const shared = host(clock, store);
    store.hold = true; // never answers
    shared.want(10);
    await flush();
    clock.advance(500);
    await flush();
    expect(shared.fallback).toBe(true);
    const liveUntil = shared.lease.liveUntil;
    expect(liveUntil).toBe(TTL + 2 * SKEW);
    // Retries while the first call hangs send nothing new; time passes up to the lease's last possible moment.
    for (let t = clock.now(); t + 100 < liveUntil; t += 100) {
      clock.advance(100);
      await flush();
      expect(shared.holdMs()).toBeGreaterThan(0);
    }
    clock.advance(liveUntil - clock.now());
    expect(shared.holdMs()).toBe(0);
    expect(shared.start()).toBe(ShareModes.STATIC);
    expect(shared.start()).toBe(ShareModes.STATIC);
    expect(shared.holdMs()).toBeGreaterThan(0); // the share, never above it
    expect(shared.staticInFlight).toBe(2);
    shared.close();
  });
});

describe('FleetLease.setCap: a run lowers a shared host cap while it runs', () => {
  it('three processes holding 4 of 12 each keep 2 of a lowered 6; the store comes down to 6 as requests end', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const fleet = ['a', 'b', 'c'].map(
      (holder) =>
        new FleetLease({
          store,
          host: HOST,
          holder,
          cap: 12,
          block: 4,
          ttlMs: TTL,
          skewMs: SKEW,
          maxHoldMs: 1_000,
          clock,
        }),
    );
    for (const lease of fleet) {
      lease.want(4);
      await lease.sync();
      while (lease.tryStart());
      expect(lease.used).toBe(4);
    }
    expect(store.inUse(HOST)).toBe(12);
    for (const lease of fleet) lease.setCap(6);
    for (const lease of fleet) {
      lease.want(10);
      await lease.sync();
      // Nothing new starts while 4 run; as they end, the permits beyond 2 go back.
      expect(lease.tryStart()).toBe(false);
      lease.finish();
      lease.finish();
      await lease.sync();
      expect(lease.held).toBe(2);
      expect(lease.tryStart()).toBe(false); // 2 still running on the 2 kept
    }
    expect(store.inUse(HOST)).toBe(6);
    // And no take passes the new cap in the store.
    for (const lease of fleet) {
      lease.want(10);
      if (lease.syncDue()) await lease.sync();
    }
    expect(store.inUse(HOST)).toBe(6);
  });
});
