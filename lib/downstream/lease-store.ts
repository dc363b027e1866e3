// Hand-written, part of the product: the store side of fleet-wide host leases (issue 17). Every process that
// calls one host holds a lease there: a count of permits and an expiry. The store keeps, per host, the sum of
// the permits its live leases hold, and never lets it exceed the host's cap. A lease that is not renewed
// expires; the next process that asks for permits takes expired leases' permits back first, so a container
// that died or was frozen gives its permits back without saying so.
//
// How it works: each call names the lease's version as its holder last saw it. A call on a lease the store no
// longer has (reclaimed after expiring), or at another version, answers `lost`: the holder drops every permit
// it thought it had. Expiry is judged by the caller's wall clock (`now`), so clocks may disagree by up to the
// skew bound the holder allows for (lib/downstream/fleet-lease.ts); the store itself keeps no time.
// MemoryLeaseStore is the reference semantics (one process's runs and the property tests); the DynamoDB store
// (lib/aws/lease-table.ts) does the same with one conditional transaction per call.

export interface LeaseState {
  /** Permits this lease holds now. */
  readonly permits: number;
  readonly version: number;
  /** Wall-clock ms (the caller's) after which any process may take the permits back. */
  readonly expiresAt: number;
}

export type LeaseAnswer = ({ readonly ok: true } & LeaseState) | { readonly ok: false; readonly lost: true };

export interface LeaseRequest {
  readonly host: string;
  readonly holder: string;
  /** The version the holder last saw; 0 for a lease it does not have yet. */
  readonly version: number;
  /** The caller's wall clock, epoch ms. */
  readonly now: number;
  readonly ttlMs: number;
}

export interface LeaseStore {
  /**
   * Adds up to `permits` to the lease (as many as fit under `cap` after expired leases are taken back; maybe
   * none) and renews it. `permits: 0` only renews.
   */
  take(request: LeaseRequest & { readonly permits: number; readonly cap: number }): Promise<LeaseAnswer>;
  /** Gives `permits` back and renews what is left (a lease left with none is removed: version 0). */
  give(request: LeaseRequest & { readonly permits: number }): Promise<LeaseAnswer>;
}

interface Held {
  permits: number;
  version: number;
  expiresAt: number;
}

/** The reference store: every host's leases in this process's memory. */
export class MemoryLeaseStore implements LeaseStore {
  readonly #hosts = new Map<string, Map<string, Held>>();
  /** Writes made (takes, gives, renewals, reclaims): what the DynamoDB store would bill. */
  writes = 0;

  async take(r: LeaseRequest & { permits: number; cap: number }): Promise<LeaseAnswer> {
    const leases = this.#leases(r.host);
    this.#reclaim(leases, r.now, r.holder);
    const held = leases.get(r.holder);
    if ((held?.version ?? 0) !== r.version) return { ok: false, lost: true };
    const free = Math.max(0, r.cap - this.inUse(r.host));
    const permits = (held?.permits ?? 0) + Math.min(r.permits, free);
    // No permits, no lease (as the DynamoDB store): a take of none by a process without a lease writes nothing.
    if (permits === 0) return { ok: true, permits: 0, version: 0, expiresAt: r.now };
    const next = { permits, version: r.version + 1, expiresAt: r.now + r.ttlMs };
    leases.set(r.holder, next);
    this.writes++;
    return { ok: true, ...next };
  }

  async give(r: LeaseRequest & { permits: number }): Promise<LeaseAnswer> {
    const leases = this.#leases(r.host);
    const held = leases.get(r.holder);
    if (!held || held.version !== r.version) return { ok: false, lost: true };
    this.writes++;
    const permits = Math.max(0, held.permits - r.permits);
    if (permits === 0) {
      leases.delete(r.holder);
      return { ok: true, permits: 0, version: 0, expiresAt: r.now };
    }
    const next = { permits, version: r.version + 1, expiresAt: r.now + r.ttlMs };
    leases.set(r.holder, next);
    return { ok: true, ...next };
  }

  /** Permits the host's leases hold, expired or not (what the store's counter says). */
  inUse(host: string): number {
    let sum = 0;
    for (const held of this.#hosts.get(host)?.values() ?? []) sum += held.permits;
    return sum;
  }

  #leases(host: string): Map<string, Held> {
    const leases = this.#hosts.get(host) ?? new Map<string, Held>();
    this.#hosts.set(host, leases);
    return leases;
  }

  /** Takes back every other lease that expired by the caller's clock (the caller's own is renewed instead). */
  #reclaim(leases: Map<string, Held>, now: number, caller: string): void {
    for (const [holder, held] of leases) {
      if (holder !== caller && held.expiresAt < now) {
        leases.delete(holder);
        this.writes++;
      }
    }
  }
}

/**
 * The fleet-wide token bucket of a host's rate: time cut in slices (of the caller's wall clock), each slice
 * allowing `limit` requests across the fleet. A process takes tokens in blocks, one write per block.
 */
export interface RateStore {
  /** Takes up to `tokens` of slice `slice`'s `limit` (as many as are left, maybe none); answers how many. */
  takeTokens(request: {
    readonly host: string;
    readonly slice: number;
    readonly tokens: number;
    readonly limit: number;
  }): Promise<number>;
}

/** The reference rate store, in this process's memory. */
export class MemoryRateStore implements RateStore {
  readonly #taken = new Map<string, number>();
  writes = 0;

  async takeTokens(r: { host: string; slice: number; tokens: number; limit: number }): Promise<number> {
    const key = `${r.host}#${r.slice}`;
    const taken = this.#taken.get(key) ?? 0;
    const granted = Math.max(0, Math.min(r.tokens, r.limit - taken));
    this.#taken.set(key, taken + granted);
    this.writes++;
    return granted;
  }
}
