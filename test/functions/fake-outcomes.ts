// The outcomes the follow-up properties draw for a delivery's tasks (test/functions/worker-follow-ups.test.ts,
// redrive-moves.test.ts): how a task ended in one delivery, as the worker's runner reports it.
import type { TaskOutcome } from '../../lib/fanout/task-outcome.js';

/** Succeeded; failed retryably (503); failed for good (404); a dead letter SQS refuses; not started. */
export type Kind = 'ok' | 'retry' | 'dead' | 'undeliverable' | 'unstarted';

/** The error an `undeliverable` outcome carries: the fake SQS refuses the dead letters that have it. */
export const TOO_BIG = 'too big';

export function outcomeOf(id: string, kind: Kind): TaskOutcome {
  if (kind === 'ok') return { id, ok: true, attempts: 1 };
  if (kind === 'dead') return { id, ok: false, attempts: 1, status: 404, retryable: false, error: 'gone' };
  if (kind === 'undeliverable') return { id, ok: false, attempts: 1, retryable: false, error: TOO_BIG };
  if (kind === 'unstarted') return { id, ok: false, attempts: 0, unstarted: true, error: 'deadline' };
  return { id, ok: false, attempts: 1, status: 503, error: 'busy' };
}
