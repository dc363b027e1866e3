// Hand-written, part of the product: one `shared: true` host in one process's DownstreamPolicy (issue 17).
// Instead of a fixed share of the host's cap, the process holds a FleetLease on the fleet-wide permits, taken
// from the lease store in blocks as its demand grows (demand bounded by the AIMD limit when the host is
// adaptive) and given back when it shrinks. When the store fails (slow past its timeout, or unreachable), the
// process says so once in the log and once in a metric, keeps running on the lease permits whose grant is still
// alive, and probes the store after `retryMs` (a probe takes no permits). It runs on the static share (never
// above it, tasks on lease permits counted against it) only once no lease it wrote can still be live in the
// store (FleetLease.liveUntil: a call that timed out may yet land), so a store that is merely slow never puts a
// static share on top of permits the store counts as this process's. A call that timed out and is answered
// late counts as the store answering again.
//
// How it plugs in: the policy's gate asks `holdMs()` before a task starts (0: go, then `start()` marks which
// budget the task runs on); `finish(mode)` gives it back. Store calls run in the background, one at a time, so
// admission never waits on the network: the writes follow demand changes and renewals, never requests.
import { type Clock, unrefTimer } from './clock.js';
import { FleetLease, type FleetLeaseOptions, leaseDefaults } from './fleet-lease.js';

export const ShareModes = { LEASE: 'lease', STATIC: 'static' } as const;
export type ShareMode = (typeof ShareModes)[keyof typeof ShareModes];

export interface SharedHostEvents {
  /** Once per switch to the static share (a log line and a metric in the container). */
  readonly onFallback?: (host: string, error: unknown) => void;
  /** Once per switch back to leases. */
  readonly onRecover?: (host: string) => void;
}

export interface SharedHostOptions extends Omit<FleetLeaseOptions, 'clock'>, SharedHostEvents {
  readonly clock: Clock;
  /** This process's static share of the cap: the fallback's limit. */
  readonly staticLimit: number;
  /** How long a store call may take before the process falls back. Default 2 s. */
  readonly storeTimeoutMs?: number;
  /** Wait before asking the store again after a failure, or for more permits after none were free. Default 1 s / 100 ms. */
  readonly retryMs?: number;
  readonly pollMs?: number;
}

/** How long a task waits locally before the gate asks again (no store call: a local look). */
const LOCAL_POLL_MS = 10;

export class SharedHost {
  readonly lease: FleetLease;
  readonly #o: SharedHostOptions;
  #static = 0;
  #fallback = false;
  #pending: Promise<boolean> | undefined;
  #notBefore = Number.NEGATIVE_INFINITY;
  #timer: unknown;
  #demand = 0;
  #staticLimit: number;

  constructor(options: SharedHostOptions) {
    this.#o = options;
    this.lease = new FleetLease(options);
    this.#staticLimit = options.staticLimit;
  }

  /** The host's fleet-wide cap. */
  get cap(): number {
    return this.lease.cap;
  }

  /** A run's override of the fleet cap (FleetLease.setCap), and the static share that goes with it. */
  setCap(cap: number, staticLimit: number): void {
    this.lease.setCap(cap);
    this.#staticLimit = staticLimit;
    this.#kick();
  }

  /** Whether the process runs on its static share now (the store failed). */
  get fallback(): boolean {
    return this.#fallback;
  }

  /** Tasks running on the static share. */
  get staticInFlight(): number {
    return this.#static;
  }

  /** What the process would run at once (running plus waiting, within the AIMD limit). */
  want(n: number): void {
    this.#demand = n;
    this.lease.want(n);
    this.#kick();
  }

  /** 0 when a task may start now; else ms until the gate should ask again. */
  holdMs(): number {
    if (this.#leaseRoom()) return 0;
    if (this.#fallback) return this.#staticRoom() ? 0 : LOCAL_POLL_MS;
    this.#kick();
    return LOCAL_POLL_MS;
  }

  /** Marks a task started (after holdMs() said 0): on a lease permit when one is free, else on the static share. */
  start(): ShareMode {
    if (this.#leaseRoom() && this.lease.tryStart()) return ShareModes.LEASE;
    this.#static++;
    return ShareModes.STATIC;
  }

  /** A lease permit is free: tasks still running on the static share (from a fallback) count against it. */
  #leaseRoom(): boolean {
    return this.lease.canStart() && this.lease.used + this.#static < this.lease.held;
  }

  /**
   * The static share has room, and no lease this process wrote can still be live in the store (a call that
   * timed out may yet land): before that, the share would come on top of permits the store counts as ours.
   */
  #staticRoom(): boolean {
    return this.lease.used + this.#static < this.#staticLimit && this.#o.clock.now() >= this.lease.liveUntil;
  }

  finish(mode: ShareMode): void {
    if (mode === ShareModes.LEASE) this.lease.finish();
    else this.#static--;
    this.#kick();
  }

  /** Stops the timers (the lease expires in the store by itself). */
  close(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #kick(): void {
    if (this.#pending || (!this.#fallback && !this.lease.syncDue())) return;
    // After a failure nothing is sent before the retry; after a take that found the cap full, no take (a
    // give-back or a renewal still goes at once).
    const taking = Math.min(this.lease.cap, Math.max(this.#demand, this.lease.used)) > this.lease.held;
    if ((this.#fallback || taking) && this.#o.clock.now() < this.#notBefore) return;
    const heldBefore = this.lease.held;
    this.#sync().then(
      () => {
        this.#recover();
        // Asked for more and got none: the fleet holds the cap; ask again after pollMs, not at once.
        const starved = this.lease.held <= heldBefore && this.#demand > this.lease.held;
        if (starved) this.#wakeIn(this.#o.pollMs ?? 100, true);
        else this.#wakeIn((this.#o.ttlMs ?? leaseDefaults.ttlMs) / 3, false);
        this.#kick();
      },
      (error: unknown) => {
        if (!this.#fallback) {
          this.#fallback = true;
          this.#o.onFallback?.(this.#o.host, error);
        }
        this.#wakeIn(this.#o.retryMs ?? 1_000, true);
      },
    );
  }

  #recover(): void {
    if (!this.#fallback) return;
    this.#fallback = false;
    this.#notBefore = Number.NEGATIVE_INFINITY;
    this.#o.onRecover?.(this.#o.host);
  }

  /** A store call in `ms` if one is due then (a renewal, more permits, a retry); `quiet`: none before. */
  #wakeIn(ms: number, quiet: boolean): void {
    this.#notBefore = quiet ? this.#o.clock.now() + ms : Number.NEGATIVE_INFINITY;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, ms);
    unrefTimer(this.#timer);
  }

  /**
   * One store call, or an error after storeTimeoutMs. A late call may still land and update the lease; no
   * other call starts before it settles, so the lease's versions stay in order.
   */
  async #sync(): Promise<void> {
    const timeoutMs = this.#o.storeTimeoutMs ?? 2_000;
    let timer: unknown;
    let timedOut = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#o.clock.setTimeout(() => {
        timedOut = true;
        reject(new Error(`lease store: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
    });
    // After a failure the retry only probes: it takes no permits, so a failing store cannot keep a lease of
    // ours live (and the static share waiting) by retries that might land.
    const call = this.#fallback ? this.lease.probe() : this.lease.sync();
    const settled = call.then(
      () => true,
      () => false,
    );
    this.#pending = settled;
    // Each side clears only its own call: a newer call may be pending by then.
    const done = () => {
      if (this.#pending === settled) this.#pending = undefined;
    };
    void settled.then((answered) => {
      if (!timedOut) return;
      // A call that timed out settled at last: the next one may go now, and if it was answered the store
      // answers again (its answer is applied: the lease is as the store has it).
      done();
      if (answered) this.#recover();
      this.#kick();
    });
    try {
      await Promise.race([call, timeout]);
      done();
    } catch (error) {
      if (!timedOut) done();
      throw error;
    } finally {
      this.#o.clock.clearTimeout(timer);
    }
  }
}
