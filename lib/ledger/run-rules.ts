// The ledger's rules, as pure functions of a run record: when a run is complete, what status it ends in,
// when the fleet-wide failure budget is exceeded, and what a new run does about a previous one still
// running. The store (lib/aws/job-ledger-table.ts) applies them with conditional writes; tests check them
// on their own.
import { OverlapPolicies, type OverlapPolicy } from '../config.js';
import {
  LIVE_STATUSES,
  type RunCounts,
  type RunReason,
  RunReasons,
  type RunRecord,
  type RunStatus,
  RunStatuses,
} from './run-record.js';

/** Tasks that have ended, one way or another. */
export function settledCount(c: RunCounts): number {
  return c.succeeded + c.deadLettered + c.undeliverable + c.invalid + c.cancelled;
}

/** The run's every task has ended and no more will be submitted: time to end it (once). */
export function isComplete(r: RunRecord): boolean {
  return r.finishedAt === undefined && r.manifestDone && settledCount(r) === r.submitted;
}

export function isLive(status: RunStatus): boolean {
  return LIVE_STATUSES.includes(status);
}

/** Whether a container may start this run's tasks now. */
export function acceptsTasks(status: RunStatus): boolean {
  return status === RunStatuses.RUNNING;
}

/**
 * Step Functions' ToleratedFailurePercentage over the fleet's counts: more than `tolerated` percent of the
 * finished tasks failed (dead-lettered or undeliverable; invalid lines are the manifest's fault and do not
 * count). 100 never trips; 0 trips on the first failure. Integer arithmetic, no rounding.
 */
export function budgetExceeded(c: RunCounts, toleratedFailurePercent: number): boolean {
  const failed = c.deadLettered + c.undeliverable;
  const finished = c.succeeded + failed;
  return toleratedFailurePercent < 100 && failed * 100 > toleratedFailurePercent * finished;
}

export interface Ending {
  readonly status: RunStatus;
  readonly reason?: RunReason;
}

/** The status a complete run ends in. A run already failed or cancelled keeps its status and reason. */
export function finalStatus(r: RunRecord): Ending {
  if (r.status === RunStatuses.FAILED || r.status === RunStatuses.CANCELLED) {
    return r.reason === undefined ? { status: r.status } : { status: r.status, reason: r.reason };
  }
  // The manifest broke after some tasks were read: they ran to their end, and the run fails.
  if (r.reason === RunReasons.MANIFEST_ERROR || r.segmentFailure?.reason === RunReasons.MANIFEST_ERROR) {
    return { status: RunStatuses.FAILED, reason: RunReasons.MANIFEST_ERROR };
  }
  // The segment that counted tripped the budget on its own outcomes, as the fleet's counts may not show.
  if (
    budgetExceeded(r, r.toleratedFailurePercent) ||
    r.segmentFailure?.reason === RunReasons.FAILURE_BUDGET
  ) {
    return { status: RunStatuses.FAILED, reason: RunReasons.FAILURE_BUDGET };
  }
  if (r.undeliverable > 0) return { status: RunStatuses.FAILED, reason: RunReasons.UNDELIVERABLE };
  if (r.deadLettered > 0 || r.invalid > 0) return { status: RunStatuses.PARTIAL };
  return { status: RunStatuses.SUCCEEDED };
}

export const OverlapActions = { START: 'start', SKIP: 'skip', REPLACE: 'replace' } as const;
export type OverlapAction = (typeof OverlapActions)[keyof typeof OverlapActions];

/** What a new run does, given the job's latest run (if any) and the schedule's overlap policy. */
export function overlapAction(policy: OverlapPolicy, previous: RunRecord | undefined): OverlapAction {
  if (!previous || !isLive(previous.status) || policy === OverlapPolicies.ALLOW) return OverlapActions.START;
  return policy === OverlapPolicies.REPLACE ? OverlapActions.REPLACE : OverlapActions.SKIP;
}
