// The failure budget as the orchestrator judges it when the run has a ledger: on the fleet's counts, not on its
// own outcomes alone. `toleratedFailurePercent` is the run's, across inline, invoke and queued tasks alike;
// the orchestrator's own outcomes reach the ledger only when its segment settles, so it judges the run's
// record (the workers' settled outcomes and the earlier segments') plus its own outcomes of this segment.
// Judged on its own alone, one failed inline task among the first few tripped a run whose thousand queued
// tasks had succeeded, and the manifest's rest was never read.
//
// The record is read afresh before a trip counts: an own failure that would trip the budget on the cached
// record (up to 2 s old) starts a read, and the budget trips only if the fresh counts still exceed it. The
// segment reads on meanwhile (one GetItem: a few more tasks at most). At most one read is in flight, and one
// more follows when failures came during it. A trip here fails the run in the ledger at once, so the workers
// stop starting its queued tasks while this segment's inline tasks still run. A budget the workers trip is the
// ledger's to act on: the run turns `failed` and the orchestrator stops on the record's status
// (orchestrator-ledger.ts ledgerStop); so does one whose judgement is still in flight when the segment ends,
// judged again on the record its settle makes (lib/ledger/after-settle.ts).
import { FailureBudget, type FailureCounts } from '../lib/fanout/failure-budget.js';
import { segmentSettleKey } from '../lib/fanout/segment-copy.js';
import { budgetFigures } from '../lib/ledger/after-settle.js';
import { LIVE_STATUSES, RunReasons, type RunRecord, RunStatuses } from '../lib/ledger/run-record.js';
import type { OpenJob } from './open-job.js';
import type { RunLedger } from './run-ledger.js';

/** A segment's budget: on the fleet's counts with a ledger; without one, on the job's own outcomes so far. */
export function jobBudget(tolerated: number, ledger: RunLedger | undefined, job: OpenJob): FailureBudget {
  return ledger
    ? new FleetBudget(tolerated, ledger, job.jobId, job.runId, job.state.segment)
    : new FailureBudget(tolerated, job.state.budget);
}

export class FleetBudget extends FailureBudget {
  readonly #ledger: RunLedger;
  readonly #jobId: string;
  readonly #runId: string;
  readonly #segment: number;
  #tripped = false;
  /** The fleet's counts plus this segment's own when the budget tripped: the run's `detail` names them. */
  #judged: FailureCounts | undefined;
  #judging: Promise<void> | undefined;
  #again = false;

  constructor(
    toleratedFailurePercent: number,
    ledger: RunLedger,
    jobId: string,
    runId: string,
    segment: number,
  ) {
    super(toleratedFailurePercent);
    this.#ledger = ledger;
    this.#jobId = jobId;
    this.#runId = runId;
    this.#segment = segment;
  }

  override record(ok: boolean): void {
    super.record(ok);
    if (ok || this.#tripped || this.toleratedFailurePercent >= 100) return;
    if (!this.#exceeded(this.#ledger.control.peek(this.#jobId, this.#runId))) return;
    if (this.#judging) this.#again = true;
    else this.#judging = this.#judge().finally(() => (this.#judging = undefined));
  }

  override get tripped(): boolean {
    return this.#tripped;
  }

  /** The counts the budget tripped on (the fresh record's plus this segment's own); undefined until it trips. */
  get judged(): FailureCounts | undefined {
    return this.#judged;
  }

  async #judge(): Promise<void> {
    do {
      this.#again = false;
      let record: RunRecord | undefined;
      try {
        record = await this.#ledger.store.getRun(this.#jobId, this.#runId);
      } catch {
        record = this.#ledger.control.peek(this.#jobId, this.#runId); // no read: the cached one
      }
      this.#ledger.control.note(record);
      const judged = this.#judgedOn(record);
      if (this.#over(judged)) {
        this.#tripped = true;
        this.#judged = judged;
        await this.#failRun(judged);
      }
    } while (this.#again && !this.#tripped);
  }

  /**
   * The run failed at once, its detail the counts it tripped on: the workers stop starting its tasks now, not
   * when this segment ends (after its slowest inline task). Not when another copy of the segment (a retry run
   * beside this one) has settled it already: that copy's outcomes are the run's, and this one's settle will not
   * count. The segment's settle keeps the trip too (end-run.ts segmentFailure), for a write that failed here.
   */
  async #failRun(judged: FailureCounts): Promise<void> {
    try {
      const key = segmentSettleKey(this.#segment);
      if (await this.#ledger.store.settledMarker(this.#jobId, this.#runId, key)) return;
      await this.#ledger.setStatus(this.#jobId, this.#runId, {
        status: RunStatuses.FAILED,
        reason: RunReasons.FAILURE_BUDGET,
        detail: budgetFigures(judged, this.toleratedFailurePercent),
        from: LIVE_STATUSES,
      });
    } catch {
      // Left to the segment's end.
    }
  }

  /** The fleet's settled counts (the record's) plus this segment's own, over the tolerated share. */
  #exceeded(record: RunRecord | undefined): boolean {
    return this.#over(this.#judgedOn(record));
  }

  #over({ failed, finished }: FailureCounts): boolean {
    return failed * 100 > this.toleratedFailurePercent * finished;
  }

  /** The fleet's settled counts (the record's) plus this segment's own. */
  #judgedOn(record: RunRecord | undefined): FailureCounts {
    const own = this.counts;
    const fleetFailed = record ? record.deadLettered + record.undeliverable : 0;
    const fleetFinished = record ? record.succeeded + fleetFailed : 0;
    return { failed: fleetFailed + own.failed, finished: fleetFinished + own.finished };
  }
}
