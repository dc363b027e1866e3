// The public surface of bounded-fanout: every primitive and its types.

export * from './aws/clients.js';
export * from './aws/enqueue.js';
export * from './aws/results.js';
export * from './aws/s3-manifest.js';
export * from './bounded-queue.js';
export type { BoundedOptions, Source, TaskFn } from './bounded-scheduler.js';
export * from './budget.js';
export { formatBudgetTable } from './budget-table.js';
export * from './config.js';
export * from './config-environment.js';
export * from './consume.js';
export * from './downstream/index.js';
export * from './errors.js';
export * from './fanout/index.js';
export * from './http/index.js';
export * from './manifest/index.js';
export * from './map-bounded.js';
export * from './prices.js';
export * from './run-bounded.js';
export * from './semaphore.js';
export * from './thread-pool.js';
