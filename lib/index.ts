// The public surface of bounded-fanout: every primitive and its types.
export * from './errors.js';
export * from './config.js';
