// The settles of one worker batch, per run, released together: a barrier. Every message of the batch joins
// its run's barrier before any of them settles; a message ready to settle waits there until each other
// member of its run is ready too or has left (failed, paused, answered by idempotency, thrown), and then the
// waiting settles are issued in one tick, so the ledger's store sends them as one transaction (or as few as
// its 100-action limit allows: lib/aws/settle-groups.ts) and one read, not one or two calls per message.
//
// Each message still settles under its own key, so a message delivered twice is counted once, exactly as
// alone. The barrier never holds a batch for good: a member leaves in a `finally`, whatever happened to it,
// and the barrier opens when the last one of its run is ready or gone. The cost of waiting is small: the
// batch's response waits for its slowest message anyway; only the ledger's counts land a little later.
import { InvalidArgumentError } from '../lib/errors.js';
import type { SettleInput } from '../lib/ledger/job-ledger.js';
import type { RunRecord } from '../lib/ledger/run-record.js';

/** Settles one message in the ledger (RunLedger.settle): the run's record as it now stands, or more. */
export type Settle<R = RunRecord | undefined> = (input: SettleInput) => Promise<R>;

/** One message's place at its run's barrier. */
export interface BatchMember<R = RunRecord | undefined> {
  /**
   * Settles this message (its input must be of the run it joined) once every other member of the run is
   * ready or gone. A member settles at most once.
   */
  settle(input: SettleInput): Promise<R>;
  /** Done with the barrier, settled or not: it holds the others no longer. Call it in a `finally`. */
  leave(): void;
}

interface Waiting<R> {
  readonly input: SettleInput;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

/** One run's barrier: how many members are neither ready nor gone, and the settles waiting for them. */
interface Barrier<R> {
  open: number;
  waiting: Waiting<R>[];
}

const MemberStates = { OPEN: 'open', READY: 'ready', GONE: 'gone' } as const;
type MemberState = (typeof MemberStates)[keyof typeof MemberStates];

export class BatchSettles<R = RunRecord | undefined> {
  readonly #settle: Settle<R>;
  readonly #barriers = new Map<string, Barrier<R>>();

  constructor(settle: Settle<R>) {
    if (typeof settle !== 'function') throw new InvalidArgumentError('settle', settle, 'a function');
    this.#settle = settle;
  }

  /** A message of `jobId`/`runId` joins the batch: call it for every message before any settles. */
  join(jobId: string, runId: string): BatchMember<R> {
    const run = `${jobId}\u0000${runId}`;
    let barrier = this.#barriers.get(run);
    if (!barrier) {
      barrier = { open: 0, waiting: [] };
      this.#barriers.set(run, barrier);
    }
    barrier.open++;
    const joined = barrier;
    let state: MemberState = MemberStates.OPEN;
    return {
      settle: (input) => {
        if (input?.jobId !== jobId || input?.runId !== runId) {
          const got = `${input?.jobId}/${input?.runId}`;
          return Promise.reject(new InvalidArgumentError('input.runId', got, `run ${jobId}/${runId}`));
        }
        if (state !== MemberStates.OPEN) {
          return Promise.reject(
            new InvalidArgumentError('settle', input.key, `a member that has not settled or left (${state})`),
          );
        }
        state = MemberStates.READY;
        return new Promise((resolve, reject) => {
          joined.waiting.push({ input, resolve, reject });
          this.#close(joined);
        });
      },
      leave: () => {
        if (state === MemberStates.OPEN) {
          state = MemberStates.GONE;
          this.#close(joined);
        } else state = MemberStates.GONE;
      },
    };
  }

  /** One member fewer to wait for; the last one releases every waiting settle of the run, in one tick. */
  #close(barrier: Barrier<R>): void {
    barrier.open--;
    if (barrier.open > 0) return;
    const waiting = barrier.waiting.splice(0);
    // Called now, all of them: the store's group commit takes what arrives in one tick together.
    for (const w of waiting) {
      try {
        this.#settle(w.input).then(w.resolve, w.reject);
      } catch (error) {
        w.reject(error);
      }
    }
  }
}
