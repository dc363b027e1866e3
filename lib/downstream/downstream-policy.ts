// Hand-written, part of the product: the per-host downstream policy. It composes the KeyedLimiter (a
// global cap and a cap per host), the RateLimiter (requests per second per host) and the AdaptiveLimit
// (AIMD per host) around runHttpTask, from the same `downstream` config the budget reads.
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { assertInteger, InvalidArgumentError } from '../errors.js';
import type { HttpTask, HttpTaskResult } from '../http/http-task.js';
import { parseRetryAfter } from '../http/retry.js';
import { type RunHttpTaskOptions, runHttpTask } from '../http/run-http-task.js';
import type { Release } from '../semaphore.js';
import { AdaptiveLimit, type AdaptiveStats } from './adaptive-limit.js';
import { assertClock, type Clock, systemClock } from './clock.js';
import type { DownstreamOptions } from './downstream-options.js';
import { SharedAdmissions, sharedHosts, sharedRates, staticShare } from './fleet-limits.js';
import {
  type HostLimits,
  type ResolvedHostLimits,
  resolveHostLimits,
  validateDownstream,
} from './host-limits.js';
import { KeyedLimiter } from './keyed-limiter.js';
import { type AttemptOutcome, observeAttempts } from './observe-attempts.js';
import { RateLimiter } from './rate-limiter.js';
import type { SharedRate } from './shared-rate.js';

/*
How a task goes through:
1. Its URL's host picks the key: the `downstream` entry named by host:port, else by host name, else the
   host:port itself (unnamed hosts get `defaults`).
2. KeyedLimiter admits it when the global cap and the host's cap (fixed, or the adaptive limit) have room
   and the gate says go: the host is not paused by a Retry-After and its token bucket has a token, which
   the first attempt takes. A task held back holds no permit, so other hosts go on. A `shared: true` host
   (with a lease store) also needs a fleet lease permit, or static-share room while the store fails
   (lib/downstream/shared-host.ts); its release gives that back too.
3. runHttpTask runs it holding both permits, on the caller's dispatcher wrapped by an interceptor that
   reports every attempt (status, Retry-After, latency, timeout) to the host's adaptive limit; a change of
   limit reaches the KeyedLimiter at once.
4. A retry is another request to the host, admitted like any other: runHttpTask's `sleep` between
   attempts is wrapped to give the permits back, spend the backoff, and queue again (FIFO), through the
   same caps, pause and token bucket. So a task in backoff holds nothing, and after a cut the retries of
   the rejected requests cannot keep the partner above the new limit. runHttpTask starts an attempt's
   timeout after `sleep` returns, so time spent queued never times an attempt out.
*/

export type { AdaptiveTuning, DownstreamOptions } from './downstream-options.js';

export interface HostStats {
  readonly key: string;
  readonly limits: ResolvedHostLimits;
  /** The host's concurrency limit now (the adaptive one when adaptive). */
  readonly limit: number;
  readonly inFlight: number;
  readonly waiting: number;
  readonly adaptive?: AdaptiveStats;
}

/** A run's fleet-wide override of a host's limits (lib/ledger/run-record.ts RunLimits.downstream). */
export interface OverrideLimits {
  readonly maxConcurrency?: number;
  readonly maxRequestsPerSecond?: number;
}

const UNNAMED = Symbol('unnamed');
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

export class DownstreamPolicy {
  readonly limiter: KeyedLimiter;
  readonly rateLimiter: RateLimiter;
  readonly #hosts = new Map<string, ResolvedHostLimits>();
  readonly #declared = new Map<string, HostLimits>();
  readonly #share: number;
  readonly #defaults: ResolvedHostLimits;
  readonly #adaptive = new Map<string | typeof UNNAMED, AdaptiveLimit>();
  readonly #keyCache = new Map<string, string>();
  readonly #observed = new WeakMap<Dispatcher, Dispatcher>();
  readonly #clock: Clock;
  /** The `shared: true` hosts on fleet-wide leases. */
  readonly #shared: SharedAdmissions;
  /** The `shared: true` hosts' rates, on the fleet's token buckets (the rest: rateLimiter's static share). */
  readonly #rates: Map<string, SharedRate>;

  constructor(downstream: Readonly<Record<string, HostLimits>> = {}, options: DownstreamOptions = {}) {
    const {
      share = 1,
      global = Number.POSITIVE_INFINITY,
      defaults,
      adaptive = {},
      clock = systemClock,
      leases,
    } = options;
    validateDownstream(downstream);
    this.#clock = assertClock(clock);
    assertInteger('global', global, { allowInfinity: true });
    for (const [host, limits] of Object.entries(downstream)) {
      this.#hosts.set(host.toLowerCase(), resolveHostLimits(host, limits, share));
      this.#declared.set(host.toLowerCase(), limits);
    }
    this.#share = share;
    this.#shared = new SharedAdmissions(sharedHosts(this.#declared, share, leases, this.#clock), (key) =>
      this.limiter.stats(key),
    );
    this.#defaults = resolveHostLimits('*', defaults, share);
    const tuning = { ...adaptive, clock: this.#clock };
    // A shared host's AIMD limit bounds what this process asks the fleet for: its ceiling is the whole cap.
    const makeAdaptive = (limits: ResolvedHostLimits, cap = limits.maxConcurrency) =>
      new AdaptiveLimit({
        ...tuning,
        ceiling: Number.isFinite(cap) ? cap : (adaptive.ceiling ?? 64),
        onChange: (key) => this.limiter.setLimit(key, this.#concurrencyOf(key)),
      });
    for (const [host, limits] of this.#hosts)
      if (limits.adaptive) this.#adaptive.set(host, makeAdaptive(limits, this.#shared.hosts.get(host)?.cap));
    if (this.#defaults.adaptive) this.#adaptive.set(UNNAMED, makeAdaptive(this.#defaults));
    this.rateLimiter = new RateLimiter({
      perSecond: (key) => this.limitsOf(key).maxRequestsPerSecond,
      burst: (key) => this.limitsOf(key).burst,
      clock: this.#clock,
    });
    this.#rates = sharedRates(this.#declared, leases, this.#clock, (key) => this.rateLimiter.take(key));
    this.limiter = new KeyedLimiter({
      global,
      perKey: (key) => this.#concurrencyOf(key),
      gate: (key) => {
        const holdMs =
          this.#adaptiveOf(key)?.pausedFor(key) ||
          this.#shared.hold(key) ||
          (this.#rates.get(key)?.take() ?? this.rateLimiter.take(key));
        if (holdMs <= 0) this.#shared.start(key);
        return holdMs;
      },
      clock: this.#clock,
    });
  }

  /** The key a URL is limited under, or undefined when it is not a URL (runHttpTask then reports it). */
  keyOf(url: string): string | undefined {
    // Keyed by scheme://authority, so a fan-out of many paths to few hosts parses each host once.
    const origin = ORIGIN.exec(url)?.[0] ?? url;
    let key = this.#keyCache.get(origin);
    if (key !== undefined) return key;
    if (!URL.canParse(origin)) return undefined;
    const { host, hostname } = new URL(origin);
    key = this.#hosts.has(host) ? host : this.#hosts.has(hostname) ? hostname : host;
    if (this.#keyCache.size >= 1024) this.#keyCache.clear();
    this.#keyCache.set(origin, key);
    return key;
  }

  /** A shared host's lease cap, else its maxConcurrency share; an adaptive host's AIMD limit under it (override). */
  #concurrencyOf(key: string): number {
    const cap = this.#shared.hosts.get(key)?.cap ?? this.limitsOf(key).maxConcurrency;
    return Math.min(cap, this.#adaptiveOf(key)?.limitOf(key) ?? cap);
  }

  /** One process's limits for a key: its entry cut to the share, or the defaults. */
  limitsOf(key: string): ResolvedHostLimits {
    return this.#hosts.get(key) ?? this.#defaults;
  }

  /**
   * Lowers a named host's fleet-wide limits while a run's override lasts (the job ledger's `limits`), cut to
   * this process's share like the declared ones and never above them; `undefined` restores the declared
   * limits. Tasks in flight finish; the next ones are admitted under the new limits. An adaptive host's AIMD
   * limit (its ceiling the declared one) is held under the new cap. A shared host's lease takes the new fleet
   * cap (FleetLease.setCap: each process keeps its proportional part of what it holds), its rate the new slice.
   */
  override(host: string, fleet: OverrideLimits | undefined): void {
    const key = host.toLowerCase();
    const declared = this.#declared.get(key);
    if (!declared) {
      throw new InvalidArgumentError(
        'host',
        host,
        `one of the downstream hosts (${[...this.#declared.keys()]})`,
      );
    }
    const lower = (asked: number | undefined, cap: number | undefined) =>
      asked === undefined ? cap : Math.min(asked, cap ?? asked);
    const limits = {
      ...declared,
      maxConcurrency: lower(fleet?.maxConcurrency, declared.maxConcurrency),
      maxRequestsPerSecond: lower(fleet?.maxRequestsPerSecond, declared.maxRequestsPerSecond),
    };
    this.#hosts.set(key, resolveHostLimits(host, limits, this.#share));
    // A shared host's lease takes the fleet cap (its permits bound the fleet); others their share of it.
    const shared = this.#shared.hosts.get(key);
    if (shared && limits.maxConcurrency !== undefined)
      shared.setCap(limits.maxConcurrency, staticShare(limits.maxConcurrency, this.#share));
    this.limiter.setLimit(key, this.#concurrencyOf(key));
    this.rateLimiter.refresh(key);
    if (limits.maxRequestsPerSecond !== undefined) this.#rates.get(key)?.setRate(limits.maxRequestsPerSecond);
  }

  stats(key: string): HostStats {
    const live = this.limiter.stats(key);
    const adaptive = this.#adaptiveOf(key)?.stats(key);
    return {
      key,
      limits: this.limitsOf(key),
      limit: live?.limit ?? adaptive?.limit ?? this.limitsOf(key).maxConcurrency,
      inFlight: live?.inFlight ?? 0,
      waiting: live?.waiting ?? 0,
      ...(adaptive ? { adaptive } : {}),
    };
  }

  /**
   * Runs `task` through runHttpTask within its host's limits. Like runHttpTask it resolves to a result for
   * every outcome, an abort while waiting for a permit included. The policy decides "limited or direct": a
   * task whose host nothing limits (no concurrency, rate or adaptive limit, and no global cap) goes straight
   * to runHttpTask, bounded by the caller's own limits and the socket caps alone.
   */
  run(task: HttpTask, options: RunHttpTaskOptions): Promise<HttpTaskResult> {
    const key = typeof task?.url === 'string' ? this.keyOf(task.url) : undefined;
    if (key === undefined || typeof options?.dispatcher?.compose !== 'function' || !this.limits(key))
      return runHttpTask(task, options);
    return this.#runLimited(key, task, options);
  }

  /** Whether a task under `key` waits on the policy: its host has a limit, or the global cap is finite. */
  limits(key: string): boolean {
    const limits = this.limitsOf(key);
    return (
      limits.adaptive ||
      limits.maxConcurrency !== Number.POSITIVE_INFINITY ||
      limits.maxRequestsPerSecond !== Number.POSITIVE_INFINITY ||
      this.limiter.global !== Number.POSITIVE_INFINITY
    );
  }

  /** Acquires the key's permits; a shared host's release also gives back its lease permit or static slot. */
  async #acquire(key: string, signal: AbortSignal | undefined): Promise<Release> {
    return this.#shared.wrap(key, await this.limiter.acquire(key, { signal }));
  }

  async #runLimited(key: string, task: HttpTask, options: RunHttpTaskOptions): Promise<HttpTaskResult> {
    let release: Release;
    try {
      release = await this.#acquire(key, options.signal);
    } catch (error) {
      // Aborted while waiting for a permit: runHttpTask reports an aborted task without sending anything.
      if (options.signal?.aborted) return runHttpTask(task, options);
      throw error;
    }
    const sleep = options.sleep ?? defaultSleep;
    const attemptOptions: RunHttpTaskOptions = {
      ...options,
      dispatcher: this.#adaptiveOf(key) ? this.dispatcherFor(options.dispatcher) : options.dispatcher,
      sleep: async (ms, signal) => {
        release();
        await sleep(ms, signal);
        release = await this.#acquire(key, signal);
      },
    };
    try {
      return await runHttpTask(task, attemptOptions);
    } finally {
      release();
    }
  }

  /** The caller's dispatcher with the attempt observer in front (one wrapper per dispatcher). */
  dispatcherFor(base: Dispatcher): Dispatcher {
    let observed = this.#observed.get(base);
    if (!observed) {
      const keyOf = (origin: string) => {
        const key = this.keyOf(origin);
        return key !== undefined && this.#adaptiveOf(key) ? key : undefined;
      };
      observed = base.compose(
        observeAttempts(keyOf, (key, outcome) => this.#report(key, outcome), this.#clock),
      );
      this.#observed.set(base, observed);
    }
    return observed;
  }

  #report(key: string, outcome: AttemptOutcome): void {
    const adaptive = this.#adaptiveOf(key);
    if (!adaptive) return;
    const inFlight = this.limiter.stats(key)?.inFlight;
    const retryAfterMs = outcome.retryAfter === undefined ? undefined : parseRetryAfter(outcome.retryAfter);
    // Out of undici's callback: a new limit may start queued tasks, which dispatch at once.
    queueMicrotask(() => adaptive.observe(key, { ...outcome, retryAfterMs, inFlight }));
  }

  #adaptiveOf(key: string): AdaptiveLimit | undefined {
    return this.#adaptive.get(this.#hosts.has(key) ? key : UNNAMED);
  }
}

const defaultSleep = (ms: number, signal?: AbortSignal) => sleepFor(ms, undefined, { signal });

/** The policy for one process from the `downstream` config: `share` is fleetShare(config) in the cloud. */
export function createDownstream(
  downstream: Readonly<Record<string, HostLimits>> = {},
  options: DownstreamOptions = {},
): DownstreamPolicy {
  return new DownstreamPolicy(downstream, options);
}
