// Group commit of the job ledger's settles (lib/aws/job-ledger-table.ts): the settles of one run that arrive
// while one of its transactions is in flight wait, then go together as the next transaction: every key's
// marker (each once only, as alone) and one update adding their summed counts, then one read of the record
// for all of them. Nothing waits on a timer: a run's first settle goes one microtask later, so the settles
// issued in the same tick (a worker batch's, functions/batch-settles.ts) go together. Why: the run record is
// the one hot item (lib/ledger/ledger-keys.ts) and a settle's two calls (the transaction and the read-back)
// were most of the ledger's cost; a container settling the messages of a batch of 10 now writes the record
// once per group, not once per message.
//
// A key whose marker is there already (a message delivered twice) is answered `applied: false` and the
// others are sent again without it: each key still counts once, atomically with its counts. An unread group
// whose settles saw one record version checks it too, and answers `confirmed` (SettleInput.seenVersion).
import type { SettleInput, SettleResult } from '../ledger/job-ledger.js';
import type { CountDelta, RunRecord, SegmentFailure } from '../ledger/run-record.js';
import { segmentTallies } from './segment-tallies.js';
import { mayGoUnread } from './unsettled.js';

/** A transaction holds at most 100 actions: the markers and the record's update. */
export const MAX_GROUP = 50;

/**
 * A group's transaction: went through, or was cancelled because some keys' markers were there already
 * (`settled`) or the record's condition failed (no record; or, for an unread group, the run may be ending).
 */
export type GroupCommit =
  | { readonly applied: true }
  | { readonly applied: false; readonly settled: ReadonlySet<string>; readonly recordFailed: boolean };

export interface GroupWrite {
  readonly jobId: string;
  readonly runId: string;
  readonly keys: readonly string[];
  /** Per key, what its marker keeps (SettleInput.state). */
  readonly states: readonly (Readonly<Record<string, unknown>> | undefined)[];
  /** The keys' counts, summed. */
  readonly delta: CountDelta;
  /** Per orchestrator segment, the tasks the keys ended of its messages (lib/aws/segment-tallies.ts). */
  readonly tallies: ReadonlyMap<number, number>;
  readonly manifestDone: boolean;
  /** Go unread: the update holds only if the run is not complete after it (lib/aws/unsettled.ts). */
  readonly unread: boolean;
  /** The record's version every settle of the group saw, when they agree: an unread write checks it too. */
  readonly seenVersion?: number;
  /** An orchestrator segment's failure, kept on the record with its marker (SettleInput.failure). */
  readonly failure?: SegmentFailure;
}

/** What the store does for a group: one transaction, and one read of the record. */
export interface GroupPorts {
  /** Writes the markers of `keys` and adds `delta` (and manifestDone) to the record, in one transaction. */
  commit(write: GroupWrite): Promise<GroupCommit>;
  read(jobId: string, runId: string): Promise<RunRecord | undefined>;
}

interface Waiting {
  readonly input: SettleInput;
  readonly resolve: (result: SettleResult) => void;
  readonly reject: (error: unknown) => void;
}

export class SettleGroups {
  readonly #ports: GroupPorts;
  /** Per run: the settles waiting for the transaction in flight; a run is here while it has one in flight. */
  readonly #queues = new Map<string, Waiting[]>();

  constructor(ports: GroupPorts) {
    this.#ports = ports;
  }

  settle(input: SettleInput): Promise<SettleResult> {
    return new Promise((resolve, reject) => {
      const run = `${input.jobId}\u0000${input.runId}`;
      const queue = this.#queues.get(run);
      if (queue) {
        queue.push({ input, resolve, reject });
        return;
      }
      this.#queues.set(run, [{ input, resolve, reject }]);
      // One microtask later: the settles issued in this same tick join the queue first and go together.
      queueMicrotask(() => void this.#drain(run));
    });
  }

  /** Sends the run's waiting settles group after group until none wait. */
  async #drain(run: string): Promise<void> {
    const queue = this.#queues.get(run) ?? [];
    while (queue.length > 0) {
      const group = takeGroup(queue);
      try {
        const results = await this.#send(group.map((w) => w.input));
        group.forEach((w, i) => {
          w.resolve(results[i]);
        });
      } catch (error) {
        for (const w of group) w.reject(error);
      }
    }
    this.#queues.delete(run);
  }

  /**
   * One group (distinct keys, one run): sent until it goes through or no key is left to add. It goes unread
   * when it may (lib/aws/unsettled.ts); if that condition fails, the run may be ending (or has no record, or
   * keeps no `unsettled`): sent again plainly, then read.
   */
  async #send(inputs: readonly SettleInput[]): Promise<SettleResult[]> {
    const { jobId, runId } = inputs[0];
    const applied = inputs.map(() => true);
    let unreadAllowed = true;
    let unread = false;
    let seenVersion: number | undefined;
    for (;;) {
      const live = inputs.filter((_, i) => applied[i]);
      if (live.length === 0) break;
      const delta = sumDeltas(live);
      const manifestDone = live.some((s) => s.manifestDone === true);
      // Each settle judged alone, not their sum: a redrive's move (deadLettered -1) would hide another's dead
      // letter (+1) from the failure budget, which a read after every settle adding a failure lets judge it.
      unread =
        unreadAllowed &&
        live.every((w) => mayGoUnread(w.delta ?? {}, w.manifestDone === true)) &&
        Object.values(delta).some((v) => v !== 0);
      seenVersion = commonVersion(live);
      const keys = live.map((s) => s.key);
      const states = live.map((s) => s.state);
      const tallies = segmentTallies(live);
      const failure = live.find((s) => s.failure)?.failure;
      const write = { jobId, runId, keys, states, delta, tallies, manifestDone, unread, failure };
      const outcome = await this.#ports.commit(seenVersion === undefined ? write : { ...write, seenVersion });
      if (outcome.applied) break;
      if (outcome.recordFailed && unread) unreadAllowed = false;
      else if (outcome.recordFailed) return inputs.map(() => ({ applied: false, record: undefined }));
      const before = live.length;
      inputs.forEach((s, i) => {
        if (outcome.settled.has(s.key)) applied[i] = false;
      });
      // Never the same transaction twice: a cancellation that names no key of it is the store's to explain.
      if (!outcome.recordFailed && applied.filter(Boolean).length === before)
        throw new Error('settle: transaction cancelled, no key named');
    }
    // Read when nothing was added (every key a repeat): rare, and the caller learns where the run stands.
    if (unread && applied.some(Boolean)) {
      const confirmed = seenVersion === undefined ? {} : { confirmed: seenVersion };
      return inputs.map((_, i) => ({ applied: applied[i], record: undefined, unread: true, ...confirmed }));
    }
    const record = await this.#ports.read(jobId, runId);
    return inputs.map((_, i) => ({ applied: applied[i], record }));
  }
}

/** The next group off the front of the queue: up to MAX_GROUP settles, one per key (a repeat waits its turn). */
function takeGroup(queue: Waiting[]): Waiting[] {
  const group: Waiting[] = [];
  const keys = new Set<string>();
  for (let i = 0; i < queue.length && group.length < MAX_GROUP; ) {
    if (keys.has(queue[i].input.key)) {
      i++;
      continue;
    }
    keys.add(queue[i].input.key);
    group.push(...queue.splice(i, 1));
  }
  return group;
}

/** The record version every settle of a group saw, or undefined when one saw none or they differ. */
function commonVersion(inputs: readonly SettleInput[]): number | undefined {
  const seen = inputs[0].seenVersion;
  return inputs.every((s) => s.seenVersion === seen) ? seen : undefined;
}

function sumDeltas(inputs: readonly SettleInput[]): CountDelta {
  const sum: Record<string, number> = {};
  for (const { delta } of inputs) {
    for (const [name, value] of Object.entries(delta ?? {})) sum[name] = (sum[name] ?? 0) + (value ?? 0);
  }
  return sum;
}
