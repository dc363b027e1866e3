// What every writer of the ledger does with the record its settle returned, the orchestrator and the
// workers alike: trip the fleet-wide failure budget (or make the failure a segment's settle kept the run's),
// and end the run when it is complete. Ending is one
// conditional write (JobLedger.finish), so of any number of settlers seeing the run complete at once
// exactly one wins; only the winner writes the result object and announces the run (in that order, so
// an event's result URI points at a written object).
import type { JobLedger, StatusChange } from './job-ledger.js';
import { LIVE_STATUSES, type RunReason, RunReasons, type RunRecord, RunStatuses } from './run-record.js';
import { budgetExceeded, finalStatus, isComplete, isLive } from './run-rules.js';

export interface AfterSettlePorts {
  readonly ledger: JobLedger;
  /** The URI the result object will have (`s3://bucket/key`), undefined with no bucket. */
  readonly resultUri?: (record: RunRecord) => string | undefined;
  /** Writes the result object of a finished run: the record first, then every part. */
  readonly writeResult?: (record: RunRecord) => Promise<void>;
  /** Puts the `Run Finished` event. */
  readonly announce?: (record: RunRecord) => Promise<void>;
  /** A result, event or `announcedAt` that could not be written: the run stays ended; this says so. */
  readonly onError?: (what: Announcement, error: unknown, record: RunRecord) => void;
}

/** What an ended run's writer writes after `finish`, in this order. */
export type Announcement = 'result' | 'event' | 'announcedAt';

export interface AfterSettle {
  /** The record as it now stands (after a budget trip, or as finished). */
  readonly record: RunRecord | undefined;
  /** This caller ended the run. */
  readonly finished: boolean;
}

export async function afterSettle(
  record: RunRecord | undefined,
  ports: AfterSettlePorts,
): Promise<AfterSettle> {
  if (!record) return { record, finished: false };
  let current = record;
  const failing = failureChange(current);
  if (failing) {
    const change = await ports.ledger.setStatus(current.jobId, current.runId, failing);
    current = change.record ?? current;
  }
  for (let tries = 1; isComplete(current) && current.finishedAt === undefined; tries++) {
    const ended = await ports.ledger.finish(current, finalStatus(current), ports.resultUri?.(current));
    if (ended) {
      await announceEnded(ended, ports);
      return { record: ended, finished: true };
    }
    // Lost the condition: another settler ended the run, or a change of status or limits (a cancel, say) landed
    // after this record was read and bumped its version. Judged again on the record as it now stands, so a
    // cancel acknowledged to its caller is never overwritten by a status judged on the record before it.
    if (tries >= MAX_FINISH_TRIES) break;
    const now = await ports.ledger.getRun(current.jobId, current.runId);
    if (!now) break;
    current = now;
  }
  return { record: current, finished: false };
}

/**
 * The change a live run's record calls for: `failed` when the fleet's counts exceed the failure budget or the
 * segment that counted tripped it on its own outcomes; the reason `manifest-error` (the status kept: the tasks
 * read still run to their end) when that segment's manifest broke. Undefined when none, or already made.
 */
export function failureChange(r: RunRecord): StatusChange | undefined {
  if (!isLive(r.status)) return undefined;
  const failed = (reason: RunReason, detail: string | undefined): StatusChange => ({
    status: RunStatuses.FAILED,
    reason,
    ...(detail === undefined ? {} : { detail }),
    from: LIVE_STATUSES,
  });
  if (budgetExceeded(r, r.toleratedFailurePercent)) return failed(RunReasons.FAILURE_BUDGET, budgetDetail(r));
  const { reason, detail } = r.segmentFailure ?? {};
  if (reason === RunReasons.FAILURE_BUDGET) return failed(reason, detail);
  if (reason !== RunReasons.MANIFEST_ERROR || r.reason === reason) return undefined;
  return { status: r.status, reason, ...(detail === undefined ? {} : { detail }), from: [r.status] };
}

/** Finishes tried on one settle's record: each lost one means a change landed; they are few and operator-made. */
const MAX_FINISH_TRIES = 5;

/**
 * Writes an ended run's result object, then (once it is written) its Run Finished event, and notes both
 * written (`announcedAt`): true when all three were. The winner of `finish` calls it, and so does the job's next run for an ended run
 * without `announcedAt` (its writer died between, or a write failed): the object is rebuilt from the same
 * parts, so it comes out the same; the event may then come twice (EventBridge delivers at least once anyway).
 */
export async function announceEnded(record: RunRecord, ports: AfterSettlePorts): Promise<boolean> {
  // No event for an object not written: the event's result URI would point at nothing.
  if (!(await attempt('result', () => ports.writeResult?.(record), ports, record))) return false;
  if (!(await attempt('event', () => ports.announce?.(record), ports, record))) return false;
  return attempt('announcedAt', () => ports.ledger.markAnnounced(record), ports, record);
}

/** An ended run whose result object or event may never have been written. */
export const unannounced = (record: RunRecord | undefined): record is RunRecord =>
  record?.finishedAt !== undefined && record.announcedAt === undefined;

export function budgetDetail(r: RunRecord): string {
  const failed = r.deadLettered + r.undeliverable;
  return budgetFigures({ failed, finished: r.succeeded + failed }, r.toleratedFailurePercent);
}

/** The `detail` of a run failed by its budget, from the counts that tripped it (the record's, or an orchestrator's). */
export function budgetFigures(
  c: { readonly failed: number; readonly finished: number },
  tolerated: number,
): string {
  return `${c.failed} of ${c.finished} finished tasks failed, more than the ${tolerated}% tolerated`;
}

/** True when `write` succeeded; its error goes to onError. */
async function attempt(
  what: Announcement,
  write: () => Promise<unknown> | undefined,
  ports: AfterSettlePorts,
  record: RunRecord,
): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    ports.onError?.(what, error, record);
    return false;
  }
}
