import type { Logger } from '@aws-lambda-powertools/logger';
import type { ResultWriter } from '../lib/aws/results.js';
import type { SegmentHooks } from '../lib/fanout/segment.js';

/** The segment's invalid, dead-lettered and undeliverable tasks: logged, and lines of the run's result object. */
export function segmentHooks(logger: Logger, jobId: string, results: ResultWriter | undefined): SegmentHooks {
  return {
    onInvalid: (item) => {
      logger.warn('invalid task skipped', {
        jobId,
        index: item.index,
        line: item.line,
        id: item.id,
        error: item.error,
      });
      results?.add({ type: 'invalid', index: item.index, line: item.line, id: item.id, error: item.error });
    },
    onDeadLetter: (record) => results?.add({ type: 'dead-letter', ...record }),
    onUndeliverable: (record, error) => {
      logger.error('task could not be dead-lettered', {
        jobId,
        id: record.task.id,
        error: record.error,
        sendError: error,
      });
      results?.add({ type: 'undeliverable', ...record, sendError: error });
    },
    onCutOff: (task, error) =>
      logger.warn('inline task cut off by the deadline: dead-lettered', {
        jobId,
        id: task.id,
        error,
      }),
  };
}
