// The time a worker invocation keeps back to settle its messages (SQS sends, idempotency writes) before
// Lambda's timeout: tasks get the rest. Shared by the worker (functions/invocation-deadline.ts) and the
// budget, which refuses a requestTimeoutMs no invocation has room for.

/** The most time kept back to settle a batch. */
export const MAX_SETTLE_RESERVE_MS = 5_000;
/** A short invocation keeps at least this much, or a quarter of itself when that is less. */
export const MIN_SETTLE_RESERVE_MS = 1_000;

/**
 * Time kept back to settle: a tenth of the invocation, at most MAX_SETTLE_RESERVE_MS (5 s of 60 s), and at least
 * a quarter of it up to MIN_SETTLE_RESERVE_MS (500 ms of 2 s, 1 s from 4 s). A settle is a few AWS calls whose
 * time does not shrink with the invocation: a tenth of a short one (200 ms of 2 s) was overrun on a loaded
 * machine, and Lambda killed the invocation at its timeout with its messages unsettled.
 */
export function settleReserveMs(invocationMs: number): number {
  const floor = Math.min(MIN_SETTLE_RESERVE_MS, Math.floor(invocationMs / 4));
  return Math.min(MAX_SETTLE_RESERVE_MS, Math.max(Math.ceil(invocationMs / 10), floor));
}

/** What an invocation of `invocationMs` has for task attempts. */
export function taskWindowMs(invocationMs: number): number {
  return invocationMs - settleReserveMs(invocationMs);
}
