// Downstream protection: per-host concurrency caps inside a global cap, request rates, and limits that
// adapt to 429s, composed per host around runHttpTask.
export * from './adaptive-limit.js';
export * from './clock.js';
export * from './downstream-policy.js';
export * from './fleet-lease.js';
export * from './fleet-limits.js';
export * from './host-limits.js';
export * from './keyed-limiter.js';
export * from './lease-store.js';
export { type AttemptOutcome, isTimeout, observeAttempts } from './observe-attempts.js';
export * from './rate-limiter.js';
export * from './shared-host.js';
