// Hand-written, part of the product: which hosts of a DownstreamPolicy run on fleet-wide leases (issue 17),
// built from the `downstream` config: a host with `shared: true` and a maxConcurrency gets a SharedHost when
// the policy is given a lease store (the container wires the job table's); every other host, and every
// shared host without a store, keeps its static share.
import type { Release } from '../semaphore.js';
import type { Clock } from './clock.js';
import { leaseTtlMs } from './fleet-lease.js';
import type { HostLimits } from './host-limits.js';
import type { LeaseStore, RateStore } from './lease-store.js';
import { SharedHost, type SharedHostEvents, type ShareMode } from './shared-host.js';
import { SharedRate } from './shared-rate.js';

export interface FleetLeaseWiring extends SharedHostEvents {
  readonly store: LeaseStore;
  /** The fleet's token buckets (lib/aws/rate-slices.ts): shared hosts' maxRequestsPerSecond. Without it they keep the static 1/N rate. */
  readonly rates?: RateStore;
  /** This process's id in the store, unique per container (e.g. the log stream name plus a random tail). */
  readonly holder: string;
  /** The longest one request may hold its permit: the attempt timeout. */
  readonly maxHoldMs: number;
  /**
   * Lease life without renewal (default leaseTtlMs: 30 s, or longer when the attempt timeout needs it) and
   * the clock skew allowed between processes (default 1 s).
   */
  readonly ttlMs?: number;
  readonly skewMs?: number;
  /** Store calls slower than this fall back to the static share. Default 2 s. */
  readonly storeTimeoutMs?: number;
  /** Wall-clock epoch ms sent to the store. Default Date.now. */
  readonly wallNow?: () => number;
}

/**
 * The fallback is the static share rounded down with no minimum of 1: a cap below the process count
 * (accepted only when shared) then holds within the cap even with the store gone (docs/downstream.md).
 */
export function staticShare(cap: number, share: number): number {
  return Math.floor(cap * share + 1e-9);
}

/** The SharedHost of every `shared: true` host with a maxConcurrency, keyed like the policy's hosts. */
export function sharedHosts(
  declared: ReadonlyMap<string, HostLimits>,
  share: number,
  wiring: FleetLeaseWiring | undefined,
  clock: Clock,
): Map<string, SharedHost> {
  const hosts = new Map<string, SharedHost>();
  if (!wiring) return hosts;
  for (const [key, limits] of declared) {
    const cap = limits.maxConcurrency;
    if (limits.shared !== true || cap === undefined) continue;
    hosts.set(
      key,
      new SharedHost({
        ...wiring,
        ttlMs: wiring.ttlMs ?? leaseTtlMs(wiring.maxHoldMs, wiring.skewMs),
        host: key,
        cap,
        clock,
        staticLimit: staticShare(cap, share),
      }),
    );
  }
  return hosts;
}

/**
 * The SharedRate of every `shared: true` host with a maxRequestsPerSecond, when the wiring has a rate store;
 * `fallback(key)` is the host's static share of the rate (the policy's RateLimiter), used while the store fails.
 */
export function sharedRates(
  declared: ReadonlyMap<string, HostLimits>,
  wiring: FleetLeaseWiring | undefined,
  clock: Clock,
  fallback: (key: string) => number,
): Map<string, SharedRate> {
  const rates = new Map<string, SharedRate>();
  if (!wiring?.rates) return rates;
  for (const [key, limits] of declared) {
    const requestsPerSecond = limits.maxRequestsPerSecond;
    if (limits.shared !== true || requestsPerSecond === undefined) continue;
    rates.set(
      key,
      new SharedRate({
        store: wiring.rates,
        host: key,
        requestsPerSecond,
        fallback: () => fallback(key),
        clock,
        ...(wiring.wallNow ? { wallNow: wiring.wallNow } : {}),
        ...(wiring.storeTimeoutMs ? { storeTimeoutMs: wiring.storeTimeoutMs } : {}),
        ...(wiring.onFallback ? { onFallback: wiring.onFallback } : {}),
        ...(wiring.onRecover ? { onRecover: wiring.onRecover } : {}),
      }),
    );
  }
  return rates;
}

/** The live counts the policy's KeyedLimiter has for a key. */
export interface KeyLoad {
  readonly limit: number;
  readonly inFlight: number;
  readonly waiting: number;
}

/**
 * The policy's side of its shared hosts: the gate's hold and start, and the release that gives a task's lease
 * permit or static slot back. The gate admits a task the moment it answers 0, and admitted tasks resume in
 * admission order, so each host keeps its tasks' budgets in a FIFO between the two.
 */
export class SharedAdmissions {
  readonly hosts: Map<string, SharedHost>;
  readonly #admitted = new Map<string, ShareMode[]>();

  readonly #load: (key: string) => KeyLoad | undefined;

  constructor(hosts: Map<string, SharedHost>, load: (key: string) => KeyLoad | undefined) {
    this.hosts = hosts;
    this.#load = load;
  }

  /** Hold (ms) while no lease permit nor static room is free; tells the lease what the key wants first. */
  hold(key: string): number {
    const shared = this.hosts.get(key);
    if (!shared) return 0;
    // The task asking is not counted yet: neither running nor (when it found no queue) waiting.
    this.#want(key, shared, 1);
    return shared.holdMs();
  }

  /** What the process asks the fleet for: running plus waiting, within its own (AIMD) limit. */
  #want(key: string, shared: SharedHost, more: number): void {
    const load = this.#load(key);
    shared.want(Math.min(load?.limit ?? shared.cap, (load?.inFlight ?? 0) + (load?.waiting ?? 0) + more));
  }

  /** The gate said 0: the task is admitted now, on a lease permit or the static share. */
  start(key: string): void {
    const shared = this.hosts.get(key);
    if (!shared) return;
    const modes = this.#admitted.get(key) ?? [];
    modes.push(shared.start());
    this.#admitted.set(key, modes);
  }

  /** The admitted task's release, which also gives its budget back (once). */
  wrap(key: string, release: Release): Release {
    const shared = this.hosts.get(key);
    const mode = shared && this.#admitted.get(key)?.shift();
    if (!shared || mode === undefined) return release;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
      this.#want(key, shared, 0);
      shared.finish(mode);
    };
  }
}
