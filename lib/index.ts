// The package's main entry: the in-process primitives alone, named one by one. Importing it loads no AWS SDK,
// undici or zod (test/package.test.ts checks the built graph); the rest of the library is behind subpaths:
// bounded-fanout/http, /downstream, /fanout, /manifest, /ledger, /aws, /budget, /config and
// /config-environment (package.json `exports`).

export type { BoundedOptions, Source, TaskFn } from './bounded-options.js';
export { BoundedQueue, type CloseOptions, type WaitOptions } from './bounded-queue.js';
export {
  type CancellablePullSource,
  isCancellablePullSource,
  type PendingPull,
  pullCancellable,
} from './cancellable-pull.js';
export { type ConsumeOptions, type ConsumeResult, consume } from './consume.js';
export {
  AbortError,
  BoundedFanoutError,
  type ErrorCode,
  ErrorCodes,
  InvalidArgumentError,
  QueueClosedError,
  QueueFullError,
  TimeoutError,
} from './errors.js';
export { type MapResult, mapBounded } from './map-bounded.js';
export { runBounded, type SettledResult } from './run-bounded.js';
export { type AcquireOptions, type QueuedAcquire, type Release, Semaphore } from './semaphore.js';
export { ThreadPool, type ThreadPoolOptions, type ThreadRunOptions } from './thread-pool.js';
