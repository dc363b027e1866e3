import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Settlement } from '../lib/fanout/settle.js';
import type { HandedOn } from './worker-hand-on.js';

/** What one invocation did, logged and published as EMF metrics. */
export interface WorkerStats {
  records: number;
  invalidMessages: number;
  tasks: number;
  succeeded: number;
  duplicates: number;
  retried: number;
  /** Tasks not started before the deadline, handed on with their attempt unspent. */
  handedOn: number;
  deadLettered: number;
  /** Failed tasks SQS refused to take even alone, as a retry and as a dead letter: logged by task id. */
  undeliverable: number;
  /** Tasks not started because their run was cancelled or failed. */
  cancelled: number;
  /** Tasks of a paused run put back in the queue for later. */
  paused: number;
  /** Tasks of a segment copy whose settle did not count (a loser's dead letter or hand-off): dropped. */
  staleCopies: number;
  /** Tasks of a segment copy whose segment no copy has settled yet: sent back, not run. */
  unsettledCopies: number;
  peakInFlight: number;
}

/** What a settled message answers in its batch. */
export interface SettledAnswer {
  readonly succeeded: number;
  readonly duplicates: number;
  readonly cancelled: number;
  readonly handedOn: number;
  readonly deadLettered: number;
  /** Its settle was not the first: the follow-ups sent were the first settle's. */
  readonly settledBefore?: true;
}

/** Adds a settled message to `stats`, and answers what it did (its record's outcome in the batch). */
export function countSettled(
  stats: WorkerStats,
  settlement: Pick<Settlement, 'succeeded' | 'duplicates' | 'cancelled'>,
  handed: Omit<HandedOn, 'lines'> & { readonly applied: boolean },
): SettledAnswer {
  stats.succeeded += settlement.succeeded;
  stats.duplicates += settlement.duplicates;
  stats.cancelled += settlement.cancelled;
  stats.retried += handed.retried;
  stats.handedOn += handed.handedOn;
  stats.deadLettered += handed.deadLettered;
  stats.undeliverable += handed.undeliverable;
  return {
    succeeded: settlement.succeeded,
    duplicates: settlement.duplicates,
    cancelled: settlement.cancelled,
    handedOn: handed.handedOn,
    deadLettered: handed.deadLettered,
    ...(handed.applied ? {} : { settledBefore: true }),
  };
}

export function emptyStats(records: number): WorkerStats {
  return {
    records,
    invalidMessages: 0,
    tasks: 0,
    succeeded: 0,
    duplicates: 0,
    retried: 0,
    handedOn: 0,
    deadLettered: 0,
    undeliverable: 0,
    cancelled: 0,
    paused: 0,
    staleCopies: 0,
    unsettledCopies: 0,
    peakInFlight: 0,
  };
}

/** Logs a batch's stats and publishes them as EMF metrics. */
export function publishStats(
  logger: Logger,
  metrics: Metrics,
  stats: WorkerStats,
  failedRecords: number,
): void {
  logger.info('batch done', { ...stats, failedRecords });
  const counts: [string, number][] = [
    ['TasksSucceeded', stats.succeeded],
    ['TasksDuplicate', stats.duplicates],
    ['TasksRetried', stats.retried],
    ['TasksHandedOn', stats.handedOn],
    ['TasksDeadLettered', stats.deadLettered],
    ['TasksUndeliverable', stats.undeliverable],
    ['TasksCancelled', stats.cancelled],
    ['TasksPaused', stats.paused],
    ['TasksStaleCopy', stats.staleCopies],
    ['TasksUnsettledCopy', stats.unsettledCopies],
    ['MessagesInvalid', stats.invalidMessages],
    ['RecordsFailed', failedRecords],
  ];
  for (const [name, value] of counts) metrics.addMetric(name, MetricUnit.Count, value);
  metrics.addMetric('PeakInFlight', MetricUnit.Count, stats.peakInFlight);
  metrics.publishStoredMetrics();
}
