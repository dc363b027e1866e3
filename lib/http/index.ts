// The bounded HTTP layer: socket caps, the destination guard and the task runner.
export * from './agents.js';
export * from './connection-budget.js';
export * from './destination-guard.js';
export * from './http-task.js';
export * from './limits.js';
export { CONNECT_TIMEOUT, ConnectTimeoutError, type HttpTlsOptions } from './node-agents.js';
export * from './read-body.js';
export * from './redact.js';
export * from './retry.js';
export * from './run-http-task.js';
