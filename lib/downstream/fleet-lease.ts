// Hand-written, part of the product: one process's lease on one host's fleet-wide permits (issue 17), the
// holder side of lib/downstream/lease-store.ts. Requests start on local permits without a store call; the
// store sees at most one write per sync() (a block taken, the surplus given back, or a renewal at a third of the
// lease's life), so its writes follow the sync cadence, never the requests.
//
// How it works: `sync()` (called on a timer, and when demand outgrows the permits held) takes permits in
// blocks up to what the process wants, gives back what it holds beyond that, and renews the lease.
// The local grant is trusted only until `validUntil`: the monotonic time the renewal was sent, plus the lease's
// life, minus twice the clock skew allowed between processes (the store judges expiry by another process's
// wall clock). And a request starts only while the grant has at least `maxHoldMs` (the attempt timeout) of life
// left, so every request started under a grant ends before any other process can take that permit back: the
// permits in use across the fleet never exceed the cap, frozen or dead processes included. A frozen process
// that thaws past its grant starts nothing until a renewal succeeds; a renewal that finds its lease taken back
// (`lost`) drops every permit.
// Two more rules close the races a slow store opens (issue 17, the cap-30 run that saw 429s under load):
// - a give-back lowers the local permits when it is sent, not when it is answered, so no request starts on a
//   permit the store may already have handed to another process;
// - `liveUntil` is the monotonic time after which no lease this process has written can still be live in the
//   store, answered or not (a store call that timed out may still land: its expiry was fixed when it was
//   sent). SharedHost uses its static share only after that, so a slow store never adds a static share on
//   top of a lease that still holds permits. `abandon()` drops a lease whose grant has run out (a new holder
//   id, so the old item is reclaimed by anyone once it expires) and lets the fallback probe the store
//   without writing a lease that could hold permits.

import { assertInteger, InvalidArgumentError } from '../errors.js';
import { type Clock, systemClock } from './clock.js';
import type { LeaseAnswer, LeaseStore } from './lease-store.js';

/**
 * The lease's defaults, in one place: the budget's figures (lib/downstream/shared-host-bound.ts,
 * lib/budget/budget-leases.ts) and the policy's wiring (fleet-limits.ts) read them from here.
 */
export const leaseDefaults = { ttlMs: 30_000, skewMs: 1_000, blockDivisor: 8 } as const;

/**
 * The lease's life for requests that hold a permit up to `maxHoldMs` (the attempt timeout): at least the
 * default, and at least 3 x (maxHoldMs + 2 x skew), the least FleetLease accepts (a grant outlives one request
 * after the skew margin, with room for renewals at a third of its life).
 */
export function leaseTtlMs(maxHoldMs: number, skewMs: number = leaseDefaults.skewMs): number {
  return Math.max(leaseDefaults.ttlMs, 3 * (maxHoldMs + 2 * skewMs));
}

/** Permits taken or given back per lease write: an eighth of the cap, at least 1. */
export function leaseBlock(cap: number): number {
  return Math.max(1, Math.floor(cap / leaseDefaults.blockDivisor));
}

export interface FleetLeaseOptions {
  readonly store: LeaseStore;
  readonly host: string;
  /** This process's id in the store (unique per container). */
  readonly holder: string;
  /** The host's fleet-wide cap on requests at once. */
  readonly cap: number;
  /** Permits taken or given back per store write. Default: an eighth of the cap, at least 1. */
  readonly block?: number;
  /** The lease's life without renewal. Default 30 s. */
  readonly ttlMs?: number;
  /** The most two processes' wall clocks may disagree. Default 1 s. */
  readonly skewMs?: number;
  /** The longest one request may hold its permit (the attempt timeout). */
  readonly maxHoldMs: number;
  /** Monotonic time for the local grant. */
  readonly clock?: Clock;
  /** Wall-clock epoch ms, sent to the store. */
  readonly wallNow?: () => number;
}

export class FleetLease {
  readonly #o: Required<FleetLeaseOptions>;
  #held = 0;
  #used = 0;
  #version = 0;
  #validUntil = Number.NEGATIVE_INFINITY;
  #renewedAt = Number.NEGATIVE_INFINITY;
  #wanted = 0;
  #liveUntil = Number.NEGATIVE_INFINITY;
  /** Leases this process gave up (lost or abandoned) expire by this time at the latest. */
  #orphansUntil = Number.NEGATIVE_INFINITY;
  #generation = 0;
  /** The fleet cap now (a run's override may lower it below the declared one). */
  #cap: number;
  /** After a lowered cap: the most this process keeps until it holds no more (see setCap). */
  #cut: number | undefined;

  constructor(options: FleetLeaseOptions) {
    const { cap, maxHoldMs, ttlMs = leaseDefaults.ttlMs, skewMs = leaseDefaults.skewMs } = options;
    assertInteger('cap', cap);
    const block = options.block ?? leaseBlock(cap);
    assertInteger('block', block);
    assertInteger('maxHoldMs', maxHoldMs);
    assertInteger('skewMs', skewMs, { min: 0 });
    // A grant must outlive one request after the skew margin, with room for renewals at a third of its life.
    if (!Number.isInteger(ttlMs) || ttlMs < 3 * (maxHoldMs + 2 * skewMs)) {
      throw new InvalidArgumentError(
        'ttlMs',
        ttlMs,
        `an integer >= 3 x (maxHoldMs + 2 x skewMs) = ${3 * (maxHoldMs + 2 * skewMs)}`,
      );
    }
    this.#o = { block, ttlMs, skewMs, clock: systemClock, wallNow: Date.now, ...options, cap, maxHoldMs };
    this.#cap = cap;
  }

  /** The fleet cap now. */
  get cap(): number {
    return this.#cap;
  }

  /**
   * A run's override of the host's fleet cap. Every take after it is checked against the new cap in the
   * store. Lowered, the process also keeps at most floor(held x new / old) of what it holds (the rest goes back
   * as its requests finish, none starts beyond it): every process doing so brings the fleet's permits within
   * the new cap, sum(floor(held_i x new / old)) <= new, once each has read the override.
   */
  setCap(cap: number): void {
    assertInteger('cap', cap);
    if (cap < this.#cap)
      this.#cut = Math.min(this.#cut ?? this.#held, Math.floor((this.#held * cap) / this.#cap));
    this.#cap = cap;
    if (this.#cut !== undefined && this.#held <= this.#cut) this.#cut = undefined;
    this.#wanted = Math.min(this.#wanted, cap, this.#cut ?? cap);
  }

  /** Permits the store holds for this process. */
  get held(): number {
    return this.#held;
  }

  /** Monotonic time after which no lease this process wrote can be live in the store (answered or not). */
  get liveUntil(): number {
    return this.#liveUntil;
  }

  /** The id the store knows this lease by: a new one after a lease is lost or abandoned. */
  get holder(): string {
    return this.#generation === 0 ? this.#o.holder : `${this.#o.holder}~${this.#generation}`;
  }

  /** Requests running on this lease. */
  get used(): number {
    return this.#used;
  }

  /** Whether a request may start now: a permit free, and the grant alive for at least one more request. */
  canStart(): boolean {
    return (
      this.#used < Math.min(this.#held, this.#cut ?? this.#held) &&
      this.#o.clock.now() + this.#o.maxHoldMs <= this.#validUntil
    );
  }

  /** Starts a request if `canStart()`; its permit comes back with `finish()`. */
  tryStart(): boolean {
    if (!this.canStart()) return false;
    this.#used++;
    return true;
  }

  finish(): void {
    if (this.#used === 0) throw new InvalidArgumentError('finish', 0, 'a call per successful tryStart');
    this.#used--;
  }

  /** How many requests the process would run at once now (running plus waiting), capped by the host's cap. */
  want(n: number): void {
    this.#wanted = Math.min(this.#cap, this.#cut ?? this.#cap, Math.max(0, n));
  }

  /** Whether sync() has work now: more or fewer wanted than held, or a renewal due at a third of its life. */
  syncDue(): boolean {
    const wanted = Math.max(this.#wanted, this.#used);
    if (wanted !== this.#held) return true;
    return this.#held > 0 && this.#o.clock.now() - this.#renewedAt >= this.#o.ttlMs / 3;
  }

  /** One store write: take a block, give back the surplus, or renew. Store errors propagate (the caller falls back). */
  async sync(): Promise<void> {
    const { store, host, ttlMs, block } = this.#o;
    const cap = this.#cap;
    const wanted = Math.max(this.#wanted, this.#used);
    const sentAt = this.#o.clock.now();
    const request = { host, holder: this.holder, version: this.#version, now: this.#o.wallNow(), ttlMs };
    let call: Promise<LeaseAnswer>;
    if (wanted > this.#held) {
      call = store.take({ ...request, permits: Math.min(block, wanted - this.#held), cap });
    } else if (wanted < this.#held) {
      // Surplus goes back at once: permits kept idle here would starve the rest of the fleet. The writes stay
      // bounded by how often sync() runs, not by requests. They stop counting here now: once the give lands
      // the store may grant them to another process, before its answer reaches us.
      const permits = this.#held - wanted;
      this.#held = wanted;
      call = store.give({ ...request, permits });
    } else if (this.#held > 0) {
      call = store.take({ ...request, permits: 0, cap });
    } else return;
    this.#sent(sentAt);
    this.#apply(await call, sentAt);
  }

  /**
   * The fallback's call to see whether the store answers again, without taking permits: a renewal while the
   * grant is alive, else (the lease abandoned first) a take of none, which writes no lease.
   */
  async probe(): Promise<void> {
    const { store, host, ttlMs } = this.#o;
    const cap = this.#cap;
    if (this.#o.clock.now() >= this.#validUntil) this.abandon();
    const sentAt = this.#o.clock.now();
    const request = { host, holder: this.holder, version: this.#version, now: this.#o.wallNow(), ttlMs };
    const call = store.take({ ...request, permits: 0, cap });
    if (this.#held > 0) this.#sent(sentAt);
    this.#apply(await call, sentAt);
  }

  /**
   * Drops the lease (its grant is spent): no permits, and a new holder id, so the old lease expires in the
   * store by itself (by liveUntil) and anyone may take it back, this process included.
   */
  abandon(): void {
    if (this.#version === 0 && this.#held === 0) return;
    this.#lose();
  }

  /** A call that may land keeps any lease it writes live until its expiry, fixed now. */
  #sent(sentAt: number): void {
    this.#liveUntil = Math.max(this.#liveUntil, sentAt + this.#o.ttlMs + 2 * this.#o.skewMs);
  }

  #lose(): void {
    this.#orphansUntil = Math.max(this.#orphansUntil, this.#liveUntil);
    this.#generation++;
    this.#held = 0;
    this.#cut = undefined;
    this.#version = 0;
    this.#validUntil = Number.NEGATIVE_INFINITY;
  }

  #apply(answer: LeaseAnswer, sentAt: number): void {
    if (!answer.ok) {
      // The store has no lease at our version: maybe one an unanswered call wrote, live until its expiry.
      this.#lose();
      return;
    }
    this.#held = answer.permits;
    if (this.#cut !== undefined && this.#held <= this.#cut) this.#cut = undefined;
    this.#version = answer.version;
    this.#renewedAt = sentAt;
    const { ttlMs, skewMs } = this.#o;
    this.#validUntil = answer.permits > 0 ? sentAt + ttlMs - 2 * skewMs : Number.NEGATIVE_INFINITY;
    this.#liveUntil = answer.permits > 0 ? sentAt + ttlMs + 2 * skewMs : this.#orphansUntil;
  }
}
