// Fleet-wide host leases (issue 17) over random fleets on a virtual clock: processes join, want more or less,
// start requests that hold their permit up to the attempt timeout, freeze past their lease's expiry, die with
// requests in flight, and disagree on the wall clock within the allowed skew. After every step: the requests
// in flight across the fleet (frozen and dead processes' included: the partner still holds them) never exceed
// the cap, nor does the store's count. At the end every permit comes back: a newcomer can take the whole cap.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../lib/downstream/clock.js';
import { FleetLease } from '../../../lib/downstream/fleet-lease.js';
import { MemoryLeaseStore } from '../../../lib/downstream/lease-store.js';

const HOST = 'partner.example';
const TTL = 30_000;
const SKEW = 1_000;
const MAX_HOLD = 5_000;
const STEP = 250;

interface Proc {
  readonly lease: FleetLease;
  state: 'live' | 'frozen' | 'dead';
  frozenUntil: number;
  /** End times of its requests in flight (the partner ends them whatever the process does). */
  ends: number[];
  /** Requests that ended while frozen: their permits come back to the lease when it thaws. */
  unreported: number;
  /** Until then its store calls fail (a partition): it keeps working on its grant, and cannot renew it. */
  cutOffUntil: number;
  /** Starts every request it can at every step. */
  busy: boolean;
}

type Command =
  | { kind: 'join'; skew: number; busy: boolean }
  | { kind: 'want'; who: number; n: number }
  | { kind: 'start'; who: number; k: number; hold: number }
  | { kind: 'freeze'; who: number; ms: number }
  | { kind: 'die'; who: number }
  | { kind: 'cut'; who: number; ms: number }
  | { kind: 'advance'; ms: number };

const command = (cap: number, skewSpan: number): fc.Arbitrary<Command> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('join' as const),
      skew: fc.integer({ min: -skewSpan / 2, max: skewSpan / 2 }),
      busy: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('want' as const), who: fc.nat(20), n: fc.nat(cap + 5) }),
    fc.record({
      kind: fc.constant('start' as const),
      who: fc.nat(20),
      k: fc.integer({ min: 1, max: cap }),
      hold: fc.integer({ min: 1, max: MAX_HOLD }),
    }),
    fc.record({
      kind: fc.constant('freeze' as const),
      who: fc.nat(20),
      ms: fc.integer({ min: 1, max: 3 * TTL }),
    }),
    fc.record({ kind: fc.constant('die' as const), who: fc.nat(20) }),
    fc.record({
      kind: fc.constant('cut' as const),
      who: fc.nat(20),
      ms: fc.integer({ min: 1, max: 2 * TTL }),
    }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: STEP, max: TTL }) }),
  );

class Fleet {
  t = 0;
  readonly procs: Proc[] = [];
  readonly store = new MemoryLeaseStore();
  peak = 0;
  readonly violations: string[] = [];
  readonly #clock: Clock = { now: () => this.t, setTimeout: () => 0, clearTimeout: () => {} };

  constructor(readonly cap: number) {}

  join(skew: number, busy = false): Proc {
    const lease = new FleetLease({
      store: this.store,
      host: HOST,
      holder: `p${this.procs.length}`,
      cap: this.cap,
      ttlMs: TTL,
      skewMs: SKEW,
      maxHoldMs: MAX_HOLD,
      clock: this.#clock,
      wallNow: () => 1_700_000_000_000 + this.t + skew,
    });
    const proc: Proc = {
      lease,
      state: 'live',
      frozenUntil: 0,
      ends: [],
      unreported: 0,
      cutOffUntil: 0,
      busy,
    };
    this.procs.push(proc);
    return proc;
  }

  async apply(c: Command): Promise<void> {
    if (c.kind === 'join') {
      const p = this.join(c.skew, c.busy);
      if (c.busy) p.lease.want(this.cap);
      return;
    }
    if (c.kind === 'advance') {
      for (let left = c.ms; left > 0; left -= STEP) await this.step(Math.min(STEP, left));
      return;
    }
    const p = this.procs[c.who % Math.max(1, this.procs.length)];
    if (p?.state !== 'live') return;
    if (c.kind === 'want') p.lease.want(c.n + p.lease.used);
    else if (c.kind === 'die') p.state = 'dead';
    else if (c.kind === 'cut') p.cutOffUntil = this.t + c.ms;
    else if (c.kind === 'freeze') {
      p.state = 'frozen';
      p.frozenUntil = this.t + c.ms;
    } else {
      for (let i = 0; i < c.k && p.lease.tryStart(); i++) p.ends.push(this.t + c.hold);
      this.check();
    }
  }

  async step(ms: number): Promise<void> {
    this.t += ms;
    // Busy processes start what their grant allows at every step, holding each permit up to MAX_HOLD.
    for (const p of this.procs) {
      if (p.state === 'live' && p.busy) while (p.lease.tryStart()) p.ends.push(this.t + MAX_HOLD);
    }
    this.check();
    for (const p of this.procs) {
      const ended = p.ends.filter((end) => end <= this.t).length;
      p.ends = p.ends.filter((end) => end > this.t);
      if (p.state === 'frozen' && this.t >= p.frozenUntil) p.state = 'live';
      if (p.state === 'live') {
        for (let i = 0; i < ended + p.unreported; i++) p.lease.finish();
        p.unreported = 0;
        if (this.t >= p.cutOffUntil && p.lease.syncDue()) await p.lease.sync();
      } else p.unreported += ended;
    }
    this.check();
  }

  check(): void {
    const inFlight = this.procs.reduce((sum, p) => sum + p.ends.length, 0);
    this.peak = Math.max(this.peak, inFlight);
    if (inFlight > this.cap) this.violations.push(`t=${this.t}: ${inFlight} in flight > cap ${this.cap}`);
    const counted = this.store.inUse(HOST);
    if (counted > this.cap) this.violations.push(`t=${this.t}: store counts ${counted} > cap ${this.cap}`);
  }
}

async function everyPermitComesBack(fleet: Fleet): Promise<number> {
  // Every process that is not dead stops wanting (a frozen one acts on it when it thaws).
  for (const p of fleet.procs) if (p.state !== 'dead') p.lease.want(0);
  for (let i = 0; i < 12; i++) await fleet.step(TTL / 4);
  const newcomer = fleet.join(0);
  newcomer.lease.want(fleet.cap);
  for (let i = 0; i < fleet.cap + 1 && newcomer.lease.syncDue(); i++) await newcomer.lease.sync();
  return newcomer.lease.held;
}

describe('FleetLease over random fleets', () => {
  it('never lets the fleet exceed the cap, and every permit comes back', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.array(command(40, SKEW), { minLength: 1, maxLength: 80 }),
        async (cap, commands) => {
          const fleet = new Fleet(cap);
          for (const c of commands) await fleet.apply(c);
          expect(fleet.violations).toEqual([]);
          expect(await everyPermitComesBack(fleet)).toBe(cap);
          expect(fleet.violations).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('uses the whole cap: 15 processes wanting more than a share each hold 30 of 30 between them', async () => {
    const fleet = new Fleet(30);
    const procs = Array.from({ length: 15 }, (_, i) => fleet.join((i % 3) * 300 - 300));
    for (const p of procs) p.lease.want(10);
    for (let i = 0; i < 20; i++) await fleet.step(STEP);
    for (const p of procs) while (p.lease.tryStart()) p.ends.push(fleet.t + MAX_HOLD);
    fleet.check();
    expect(fleet.peak).toBe(30);
    expect(procs.reduce((sum, p) => sum + p.lease.held, 0)).toBe(30);
    expect(fleet.violations).toEqual([]);
  });

  it('a host capped below the process count works: 12 permits among 15 processes', async () => {
    const fleet = new Fleet(12);
    const procs = Array.from({ length: 15 }, () => fleet.join(0));
    for (const p of procs) p.lease.want(3);
    for (let i = 0; i < 20; i++) await fleet.step(STEP);
    for (const p of procs) while (p.lease.tryStart()) p.ends.push(fleet.t + MAX_HOLD);
    fleet.check();
    expect(fleet.peak).toBe(12);
    expect(fleet.violations).toEqual([]);
  });

  it('a frozen process that thaws past its lease starts nothing until a renewal answers', async () => {
    const fleet = new Fleet(4);
    const frozen = fleet.join(0);
    frozen.lease.want(4);
    for (let i = 0; i < 4; i++) await fleet.step(STEP); // a block (1) per sync
    expect(frozen.lease.held).toBe(4);
    frozen.state = 'frozen';
    frozen.frozenUntil = Number.POSITIVE_INFINITY;
    const other = fleet.join(0);
    other.lease.want(4);
    for (let i = 0; i < (2 * TTL) / STEP; i++) await fleet.step(STEP);
    expect(other.lease.held).toBe(4); // the frozen lease was taken back
    expect(frozen.lease.canStart()).toBe(false); // its grant expired locally long before
    // Thawed: its renewal finds the lease gone and drops every permit.
    await frozen.lease.sync();
    expect(frozen.lease.held).toBe(0);
    expect(frozen.lease.tryStart()).toBe(false);
  });

  it('refuses a lease life too short for one request after the skew margin, naming the option', () => {
    expect(
      () =>
        new FleetLease({
          store: new MemoryLeaseStore(),
          host: HOST,
          holder: 'p',
          cap: 5,
          ttlMs: 10_000,
          skewMs: 1_000,
          maxHoldMs: 5_000,
        }),
    ).toThrow('Expected `ttlMs` to be an integer >= 3 x (maxHoldMs + 2 x skewMs) = 21000, got 10000');
  });
});

/** A holder whose clock is `behindMs` behind starts its last request; another process then reclaims. */
async function lastRequestAgainstReclaim(behindMs: number): Promise<string[]> {
  const fleet = new Fleet(1);
  const slow = fleet.join(-behindMs);
  slow.lease.want(1);
  await fleet.step(STEP);
  slow.state = 'frozen'; // no more renewals; its request still runs at the partner
  slow.frozenUntil = Number.POSITIVE_INFINITY;
  // The last start its grant allows: renewal sent at t = STEP, grant until STEP + TTL - 2 x SKEW.
  fleet.t = STEP + TTL - 2 * SKEW - MAX_HOLD;
  expect(slow.lease.tryStart()).toBe(true);
  slow.ends.push(fleet.t + MAX_HOLD);
  const fast = fleet.join(0);
  fast.lease.want(1);
  for (let i = 0; i < (2 * MAX_HOLD) / STEP; i++) {
    await fleet.step(STEP);
    if (fast.lease.tryStart()) fast.ends.push(fleet.t + MAX_HOLD);
    fleet.check();
  }
  expect(fast.lease.held).toBe(1);
  return fleet.violations;
}

describe('a process cut off from the store', () => {
  it('keeps working on its grant, stops one attempt timeout before it ends, and the reclaim waits for it', async () => {
    const fleet = new Fleet(3);
    const cut = fleet.join(0, true);
    cut.lease.want(3);
    for (let i = 0; i < 3; i++) await fleet.step(STEP);
    expect(cut.lease.held).toBe(3);
    cut.cutOffUntil = Number.POSITIVE_INFINITY;
    const other = fleet.join(0, true);
    other.lease.want(3);
    let lastStart = 0;
    for (let i = 0; i < (2 * TTL) / STEP; i++) {
      const before = cut.ends.length;
      await fleet.step(STEP);
      if (cut.ends.length > before) lastStart = fleet.t;
    }
    // Its grant: sent at t = 3 x STEP, for TTL - 2 x SKEW; the last start leaves one MAX_HOLD of it.
    expect(lastStart).toBeLessThanOrEqual(3 * STEP + TTL - 2 * SKEW - MAX_HOLD);
    expect(lastStart).toBeGreaterThan(3 * STEP + TTL - 2 * SKEW - 2 * MAX_HOLD - 2 * STEP);
    expect(other.lease.held).toBe(3);
    expect(fleet.peak).toBe(3);
    expect(fleet.violations).toEqual([]);
  });
});

describe('the skew bound is what keeps the cap', () => {
  it('clocks within the bound: the reclaim waits for the last request', async () => {
    expect(await lastRequestAgainstReclaim(SKEW)).toEqual([]);
  });

  it('clocks further apart than allowed: a reclaim overlaps a live request (the bound is real)', async () => {
    expect((await lastRequestAgainstReclaim(3 * SKEW)).length).toBeGreaterThan(0);
  });
});
