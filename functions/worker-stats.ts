import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

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
  peakInFlight: number;
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
    ['MessagesInvalid', stats.invalidMessages],
    ['RecordsFailed', failedRecords],
  ];
  for (const [name, value] of counts) metrics.addMetric(name, MetricUnit.Count, value);
  metrics.addMetric('PeakInFlight', MetricUnit.Count, stats.peakInFlight);
  metrics.publishStoredMetrics();
}
