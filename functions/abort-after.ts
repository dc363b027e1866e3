// A signal that aborts after a time, for every task of an invocation (or of an orchestrator segment) to listen
// on: the worker's deadline (invocation-deadline.ts) and the segment's cutoff (segment-cutoff.ts).
import { setMaxListeners } from 'node:events';
import { MAX_TIMER_MS } from '../lib/downstream/clock.js';

export interface AbortAfter {
  readonly signal: AbortSignal;
  /** Stops the timer (what it guarded ended first). */
  close(): void;
}

/** Aborts `signal` after `ms` (at once when not positive); the timer never keeps the process alive. */
export function abortAfter(ms: number): AbortAfter {
  const abort = new AbortController();
  // Every task in flight listens on this one signal: not a leak, so Node's 10-listener warning is off for it.
  setMaxListeners(0, abort.signal);
  const timer = setTimeout(() => abort.abort(), Math.min(Math.max(0, ms), MAX_TIMER_MS));
  timer.unref();
  return { signal: abort.signal, close: () => clearTimeout(timer) };
}
