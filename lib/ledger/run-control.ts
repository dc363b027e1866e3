import { failureChange } from './after-settle.js';
import type { JobLedger } from './job-ledger.js';
import type { RunRecord } from './run-record.js';

/*
How a container follows a run's status and limits without a read per task: the record of each run it
works on is read at most once per `maxAgeMs` (2 s by default), by one read that concurrent callers share,
and refreshed for free whenever a settle returns the record or confirms the cached copy (`confirm`: an unread
settle written on the condition that the record's version is the cached one; the version changes with every
change of status or limits, never with counts). `peek` answers at once from the cache (the per-task check),
`view` reads when the cached copy is stale. A read that fails keeps the last copy: the
ledger being slow never stops the work it only steers. At most `maxRuns` runs are kept (the oldest go).
A record read that calls for a failure not made yet (a segment's kept by its settle, or the budget exceeded on
the counts: after-settle.ts failureChange) has it made before it is kept, as a settler would: its writer may
have died between its settle and that change, and the settles of successes that follow go unread, so the
fleet would run on to the run's last task.
*/

export interface RunControlOptions {
  readonly maxAgeMs?: number;
  readonly maxRuns?: number;
  readonly now?: () => number;
}

interface Entry {
  record: RunRecord | undefined;
  readAt: number;
  reading?: Promise<RunRecord | undefined>;
}

export const RUN_CONTROL_MAX_AGE_MS = 2_000;

export class RunControl {
  readonly #ledger: JobLedger;
  readonly #maxAgeMs: number;
  readonly #maxRuns: number;
  readonly #now: () => number;
  readonly #runs = new Map<string, Entry>();
  #reads = 0;

  constructor(
    ledger: JobLedger,
    { maxAgeMs = RUN_CONTROL_MAX_AGE_MS, maxRuns = 64, now = Date.now }: RunControlOptions = {},
  ) {
    this.#ledger = ledger;
    this.#maxAgeMs = maxAgeMs;
    this.#maxRuns = maxRuns;
    this.#now = now;
  }

  /** Ledger reads made so far (the bound: one per run per maxAgeMs). */
  get reads(): number {
    return this.#reads;
  }

  /** The cached record, or undefined if none was read yet; starts a refresh when stale. */
  peek(jobId: string, runId: string): RunRecord | undefined {
    const entry = this.#runs.get(keyOf(jobId, runId));
    if (entry && this.#stale(entry)) void this.view(jobId, runId);
    return entry?.record;
  }

  /** The record, read when the cached one is older than maxAgeMs. */
  async view(jobId: string, runId: string): Promise<RunRecord | undefined> {
    const key = keyOf(jobId, runId);
    let entry = this.#runs.get(key);
    if (entry && !this.#stale(entry)) return entry.record;
    if (entry?.reading) return entry.reading;
    entry ??= this.#add(key);
    const held = entry;
    this.#reads++;
    held.reading = this.#ledger
      .getRun(jobId, runId)
      .then((record) => this.#failed(record))
      .then(
        (record) => {
          this.#store(held, record);
          return record;
        },
        () => {
          // Keep the last copy and try again after maxAgeMs.
          held.readAt = this.#now();
          return held.record;
        },
      )
      .finally(() => {
        held.reading = undefined;
      });
    return held.reading;
  }

  /** The record with the failure it calls for made (once: then it is not live); as read if that write fails. */
  async #failed(record: RunRecord | undefined): Promise<RunRecord | undefined> {
    const change = record && failureChange(record);
    if (!record || !change) return record;
    try {
      return (await this.#ledger.setStatus(record.jobId, record.runId, change)).record ?? record;
    } catch {
      return record;
    }
  }

  /** The cached record's version (undefined when none was read yet), without reading or refreshing. */
  cachedVersion(jobId: string, runId: string): number | undefined {
    return this.#runs.get(keyOf(jobId, runId))?.record?.version;
  }

  /** Now, on this control's clock: a settle takes it before it is sent, for `confirm`. */
  clock(): number {
    return this.#now();
  }

  /**
   * A settle asked at `since` (clock()) was written on the condition that the run's record was at `version`
   * (SettleResult.confirmed): when that is the cached copy's, its status and limits were current at `since` at
   * the latest, as a read would have said (counts are not). Dated from the ask, not the answer: never fresher
   * than the truth, however long the settle waited.
   */
  confirm(jobId: string, runId: string, version: number, since: number): void {
    const entry = this.#runs.get(keyOf(jobId, runId));
    if (entry?.record?.version === version && since > entry.readAt) entry.readAt = since;
  }

  /** A record the ledger just returned (a settle, a status change): newer versions replace the cache. */
  note(record: RunRecord | undefined): void {
    if (!record) return;
    const key = keyOf(record.jobId, record.runId);
    const entry = this.#runs.get(key) ?? this.#add(key);
    if (!entry.record || record.version >= entry.record.version) this.#store(entry, record);
  }

  #store(entry: Entry, record: RunRecord | undefined): void {
    entry.record = record;
    entry.readAt = this.#now();
  }

  #stale(entry: Entry): boolean {
    return this.#now() - entry.readAt >= this.#maxAgeMs;
  }

  #add(key: string): Entry {
    if (this.#runs.size >= this.#maxRuns) this.#runs.delete(this.#runs.keys().next().value as string);
    const entry: Entry = { record: undefined, readAt: Number.NEGATIVE_INFINITY };
    this.#runs.set(key, entry);
    return entry;
  }
}

const keyOf = (jobId: string, runId: string) => `${jobId}\u0000${runId}`;
