// The job ledger as a handler uses it: one per container. Settles a unit of work (an SQS message, an
// orchestrator segment), then does what every settler does (lib/ledger/after-settle.ts: trip the fleet's
// failure budget, end a complete run, write its result object and put its event); follows each run's
// status and limits through a RunControl, read at most once per run every 2 s.
import type { Logger } from '@aws-lambda-powertools/logger';
import { runFinishedPorts } from '../lib/aws/run-finished.js';
import { RunOrigins } from '../lib/aws/run-origins.js';
import { SegmentBeats } from '../lib/aws/segment-beats.js';
import { errorText } from '../lib/fanout/segment.js';
import { runWinnerIn } from '../lib/fanout/segment-copy.js';
import {
  type AfterSettle,
  type AfterSettlePorts,
  afterSettle,
  announceEnded,
} from '../lib/ledger/after-settle.js';
import type { BreakInput, JobLedger, SettleInput, StatusChange } from '../lib/ledger/job-ledger.js';
import { RunControl } from '../lib/ledger/run-control.js';
import type { RunRecord } from '../lib/ledger/run-record.js';
import type { FunctionRuntime } from './runtime.js';

/** A settle's answer as a worker needs it. */
export interface SettledOnce {
  /** The settle was the key's first. */
  readonly applied: boolean;
  readonly record: RunRecord | undefined;
  /** The record was not read: undefined says nothing of whether the run has one. */
  readonly unread: boolean;
}

export class RunLedger {
  readonly control: RunControl;
  readonly #ledger: JobLedger;
  readonly #rt: FunctionRuntime;
  readonly #logger: Logger;
  #applied: string | undefined;
  #beats: SegmentBeats | undefined;
  #origins: RunOrigins | undefined;
  readonly #afters = new WeakMap<RunRecord, Promise<AfterSettle>>();

  constructor(ledger: JobLedger, rt: FunctionRuntime, logger: Logger) {
    this.#ledger = ledger;
    this.#rt = rt;
    this.#logger = logger;
    this.control = new RunControl(ledger);
  }

  get store(): JobLedger {
    return this.#ledger;
  }

  /** Running orchestrator segments' heartbeats, on the same table (functions/segment-heartbeat.ts). */
  get beats(): SegmentBeats {
    this.#beats ??= new SegmentBeats(this.#rt.aws.dynamodb, { tableName: this.#rt.wiring.jobTable ?? '' });
    return this.#beats;
  }

  /** The runs first S3 segments began, by request id, on the same table (functions/run-origin.ts). */
  get origins(): RunOrigins {
    this.#origins ??= new RunOrigins(this.#rt.aws.dynamodb, { tableName: this.#rt.wiring.jobTable ?? '' });
    return this.#origins;
  }

  /** Settles once per key and ends the run if that made it complete; the record as it now stands. */
  async settle(input: SettleInput): Promise<RunRecord | undefined> {
    return (await this.settleOnce(input)).record;
  }

  /**
   * As settle, and whether this settle was the key's first (`applied`) or found it settled already; `unread`
   * when the record was not read (SettleResult.unread), so an undefined record does not mean no run.
   */
  async settleOnce(input: SettleInput): Promise<SettledOnce> {
    const { jobId, runId } = input;
    // The version of the status and limits this container follows: an unread settle then confirms them (no read).
    const seenVersion = input.seenVersion ?? this.control.cachedVersion(jobId, runId);
    const asked = this.control.clock();
    const settled = await this.#ledger.settle(seenVersion === undefined ? input : { ...input, seenVersion });
    const { applied, record, unread, confirmed } = settled;
    if (confirmed !== undefined) this.control.confirm(jobId, runId, confirmed, asked);
    if (!applied) {
      this.#logger.warn('ledger: already settled, not counted again', {
        jobId: input.jobId,
        runId: input.runId,
        key: input.key,
        known: record !== undefined,
      });
    }
    return { applied, record: await this.#endNoted(record), unread: unread === true };
  }

  /** The run ended if `record` shows it complete (#after), the cache noting the record before and after. */
  async #endNoted(record: RunRecord | undefined): Promise<RunRecord | undefined> {
    this.control.note(record);
    const after = await this.#after(record);
    this.control.note(after.record);
    return after.record;
  }

  /**
   * afterSettle once per record read: the settles of one group commit (lib/aws/settle-groups.ts) share their
   * record, and one of them ending the run is enough (the others' finish would only lose the condition).
   */
  #after(record: RunRecord | undefined): Promise<AfterSettle> {
    if (!record) return Promise.resolve({ record, finished: false });
    let after = this.#afters.get(record);
    if (!after) {
      after = this.#afterSettle(record);
      this.#afters.set(record, after);
    }
    return after;
  }

  async #afterSettle(record: RunRecord): Promise<AfterSettle> {
    const after = await afterSettle(record, this.#finishPorts());
    if (after.finished && after.record) this.#logger.info('run finished', { run: after.record });
    return after;
  }

  /**
   * Ends the run if it is complete and not ended yet (afterSettle on the record as it stands): for a settle whose
   * settler failed between its settle and the run's end (a crash, a timeout, a write that failed), then found
   * settled by its retry, which adds nothing and so would end nothing. One read; nothing else when it ended.
   */
  async endIfComplete(jobId: string, runId: string): Promise<RunRecord | undefined> {
    return this.#endNoted(await this.#ledger.getRun(jobId, runId));
  }

  /**
   * Writes the result object and Run Finished event of an ended run that has no `announcedAt` (its writer
   * died before, or a write failed): the job's next run calls it for the run before it.
   */
  async announceMissed(record: RunRecord): Promise<boolean> {
    this.#logger.warn('run ended without its result or event noted: writing them now', {
      jobId: record.jobId,
      runId: record.runId,
    });
    return announceEnded(record, this.#finishPorts());
  }

  #finishPorts(): AfterSettlePorts {
    return {
      ledger: this.#ledger,
      ...runFinishedPorts({
        s3: this.#rt.aws.s3,
        events: this.#rt.aws.events,
        bucket: this.#rt.wiring.bucket,
        resultsPrefix: this.#rt.config.resultsPrefix,
        segmentWinner: (r, segment) => runWinnerIn(this.#ledger, r)(segment),
      }),
      onError: (what, error, r) =>
        this.#logger.error(`run ended but its ${what} was not written`, {
          jobId: r.jobId,
          runId: r.runId,
          error: errorText(error),
        }),
    };
  }

  /**
   * Puts a run's downstream overrides on this container's policy (restoring the declared limits of hosts the
   * run does not override), once per record version: the run a container works on sets its hosts' limits.
   */
  applyDownstream(record: RunRecord | undefined): void {
    const policy = this.#rt.downstream;
    if (!policy || !record) return;
    const mark = `${record.jobId}\u0000${record.runId}\u0000${record.version}`;
    if (mark === this.#applied) return;
    const overrides = record.limits?.downstream ?? {};
    for (const host of Object.keys(this.#rt.config.downstream)) {
      try {
        policy.override(host, overrides[host]);
      } catch (error) {
        this.#logger.warn('downstream override not applied', { host, error: errorText(error) });
      }
    }
    this.#applied = mark;
  }

  /**
   * Breaks the run at an orchestrator segment that failed for good (JobLedger.breakRun), then ends it if every
   * task it counted has ended. A report sent again (Lambda's retry of a delivery that broke the run, then failed
   * before it ended it) ends it too. `broken`: this call broke it; `record`: the run as it then stands.
   */
  async breakRun(input: BreakInput): Promise<{ broken: boolean; record: RunRecord | undefined }> {
    const broken = await this.#ledger.breakRun(input);
    const record = broken ?? (await this.#ledger.getRun(input.jobId, input.runId));
    if (record?.brokenSegment !== input.segment) {
      this.control.note(record);
      return { broken: false, record };
    }
    return { broken: broken !== undefined, record: await this.#endNoted(record) };
  }

  async setStatus(jobId: string, runId: string, change: StatusChange): Promise<RunRecord | undefined> {
    const { record } = await this.#ledger.setStatus(jobId, runId, change);
    this.control.note(record);
    return record;
  }
}

/** The container's RunLedger, or undefined when no job table is wired. */
export function runLedgerOf(rt: FunctionRuntime, logger: Logger): RunLedger | undefined {
  return rt.ledger ? new RunLedger(rt.ledger, rt, logger) : undefined;
}
