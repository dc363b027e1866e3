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

import { assertInteger, InvalidArgumentError } from '../errors.js';
import { type Clock, systemClock } from './clock.js';
import type { LeaseAnswer, LeaseStore } from './lease-store.js';

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

  constructor(options: FleetLeaseOptions) {
    const { cap, maxHoldMs, ttlMs = 30_000, skewMs = 1_000 } = options;
    assertInteger('cap', cap);
    const block = options.block ?? Math.max(1, Math.floor(cap / 8));
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
  }

  /** Permits the store holds for this process. */
  get held(): number {
    return this.#held;
  }

  /** Requests running on this lease. */
  get used(): number {
    return this.#used;
  }

  /** Whether a request may start now: a permit free, and the grant alive for at least one more request. */
  canStart(): boolean {
    return this.#used < this.#held && this.#o.clock.now() + this.#o.maxHoldMs <= this.#validUntil;
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
    this.#wanted = Math.min(this.#o.cap, Math.max(0, n));
  }

  /** Whether sync() has work now: more or fewer wanted than held, or a renewal due at a third of its life. */
  syncDue(): boolean {
    const wanted = Math.max(this.#wanted, this.#used);
    if (wanted !== this.#held) return true;
    return this.#held > 0 && this.#o.clock.now() - this.#renewedAt >= this.#o.ttlMs / 3;
  }

  /** One store write: take a block, give back the surplus, or renew. Store errors propagate (the caller falls back). */
  async sync(): Promise<void> {
    const { store, host, holder, ttlMs, block, cap } = this.#o;
    const wanted = Math.max(this.#wanted, this.#used);
    const sentAt = this.#o.clock.now();
    const request = { host, holder, version: this.#version, now: this.#o.wallNow(), ttlMs };
    let answer: LeaseAnswer;
    if (wanted > this.#held) {
      answer = await store.take({ ...request, permits: Math.min(block, wanted - this.#held), cap });
    } else if (wanted < this.#held) {
      // Surplus goes back at once: permits kept idle here would starve the rest of the fleet. The writes stay
      // bounded by how often sync() runs, not by requests.
      answer = await store.give({ ...request, permits: this.#held - wanted });
    } else if (this.#held > 0) {
      answer = await store.take({ ...request, permits: 0, cap });
    } else return;
    this.#apply(answer, sentAt);
  }

  #apply(answer: LeaseAnswer, sentAt: number): void {
    if (!answer.ok) {
      this.#held = 0;
      this.#version = 0;
      this.#validUntil = Number.NEGATIVE_INFINITY;
      return;
    }
    this.#held = answer.permits;
    this.#version = answer.version;
    this.#renewedAt = sentAt;
    this.#validUntil =
      answer.permits > 0 ? sentAt + this.#o.ttlMs - 2 * this.#o.skewMs : Number.NEGATIVE_INFINITY;
  }
}
