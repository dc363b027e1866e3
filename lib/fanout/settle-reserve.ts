// The time a worker invocation keeps back to settle its messages (SQS sends, idempotency writes) before
// Lambda's timeout: tasks get the rest. Shared by the worker (functions/invocation-deadline.ts) and the
// budget, which refuses a requestTimeoutMs no invocation has room for.

/** The most time kept back to settle a batch. */
export const MAX_SETTLE_RESERVE_MS = 5_000;

/** Time kept back to settle: a tenth of the invocation, at most MAX_SETTLE_RESERVE_MS (5 s of 60 s). */
export function settleReserveMs(invocationMs: number): number {
  return Math.min(MAX_SETTLE_RESERVE_MS, Math.ceil(invocationMs / 10));
}

/** What an invocation of `invocationMs` has for task attempts. */
export function taskWindowMs(invocationMs: number): number {
  return invocationMs - settleReserveMs(invocationMs);
}
