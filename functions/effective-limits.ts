// A job's limits as its segments run them: the job header's own packing and retry delay, and concurrency
// limits that can only lower the deployed config's.
import type { FanoutConfig } from '../lib/config.js';
import type { SegmentLimits } from '../lib/fanout/segment.js';
import type { JobLimits } from '../lib/manifest/schema.js';

/** Concurrency limits of a job can only lower the deployed ones: the budget was proven at deploy time. */
export function effectiveLimits(job: JobLimits | undefined, config: FanoutConfig): SegmentLimits {
  const lower = (asked: number | undefined, cap: number) => Math.min(asked ?? cap, cap);
  return {
    inline: lower(job?.inline, config.inlineConcurrency),
    enqueue: lower(job?.enqueue, config.enqueueConcurrency),
    invoke: lower(job?.invoke, config.invokeConcurrency),
    tasksPerMessage: job?.tasksPerMessage ?? config.tasksPerMessage,
    tasksPerInvoke: job?.tasksPerInvoke ?? config.tasksPerMessage,
    retryDelaySeconds: job?.retryDelaySeconds ?? 0,
  };
}
