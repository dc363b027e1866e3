// The fan-out core: packing, batching, the failure budget, segments and continuations, the summary.

export * from '../wire/sqs-limits.js';
export * from './batcher.js';
export * from './continuation.js';
export * from './dead-letter-packer.js';
export * from './failure-budget.js';
export * from './messages.js';
export * from './reread.js';
export * from './segment.js';
export * from './settle.js';
export * from './summary.js';
export * from './task-outcome.js';
