import type { RunControl } from '../lib/ledger/run-control.js';
import { Semaphore } from '../lib/semaphore.js';

/*
The perInvocationConcurrency permits every task of one worker invocation shares, following the runs'
live override (`limits perInvocationConcurrency=N`), down and back up, never above the deployed value (what
the budget proved at synth). The override is asked of the container's cached records (RunControl: read
again once 2 s old), at each message's start and every `periodMs` while the invocation runs, so a running
invocation follows a change within about 2 s, not only its next one. Shrinking lets holders finish; growing
starts waiting tasks at once. A batch of several runs takes the lowest of their overrides.
*/

/** How often a running invocation looks at its cached records (a look reads only when one is stale). */
export const PERMITS_LOOK_MS = 250;

export class InvocationPermits {
  readonly slots: Semaphore;
  readonly #limit: number;
  readonly #control: RunControl | undefined;
  readonly #periodMs: number;
  readonly #runs = new Map<string, readonly [string, string]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(limit: number, control: RunControl | undefined, periodMs = PERMITS_LOOK_MS) {
    this.slots = new Semaphore(limit);
    this.#limit = limit;
    this.#control = control;
    this.#periodMs = periodMs;
  }

  /** The invocation works on this run from now: its override applies now and while the invocation lasts. */
  follow(jobId: string, runId: string): void {
    if (!this.#control) return;
    this.#runs.set(`${jobId}\u0000${runId}`, [jobId, runId]);
    this.#apply();
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#apply(), this.#periodMs);
    // A look never keeps the process alive: the invocation's end closes it anyway.
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #apply(): void {
    let permits = this.#limit;
    for (const [jobId, runId] of this.#runs.values()) {
      const asked = this.#control?.peek(jobId, runId)?.limits?.perInvocationConcurrency;
      // A value the store took unchecked (below 1) would stop the invocation: the checked ones only.
      if (asked !== undefined && asked >= 1) permits = Math.min(permits, Math.floor(asked));
    }
    if (permits !== this.slots.permits) this.slots.setPermits(permits);
  }
}
