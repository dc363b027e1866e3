import { ErrorCodes } from '../lib/errors.js';
import { emptyPlan, type FollowUpPlan, PLAN_VERSION } from '../lib/fanout/follow-up-plan.js';
import type { TaskMessage } from '../lib/fanout/messages.js';
import { followUpsOf, type Settlement } from '../lib/fanout/settle.js';
import type { TaskOutcome } from '../lib/fanout/task-outcome.js';
import { invocationOptions, type RunHttpTaskOptions } from '../lib/http/run-http-task.js';
import { RunStatuses } from '../lib/ledger/run-record.js';
import { acceptsTasks } from '../lib/ledger/run-rules.js';
import type { JobTask } from '../lib/manifest/schema.js';
import type { RunLedger } from './run-ledger.js';
import type { MessageTaskRunner } from './task-runner.js';

// What the worker does with a message or a task its run no longer lets start: a paused run's goes back
// to the queue, a cancelled or failed run's ends `cancelled`.

/**
 * A paused run's message, settled as held: nothing counted, every task handed on unstarted in a new message
 * (`<key>~1`) delayed `holdSeconds` (pauseRecheckSeconds), no attempt spent. A new message starts with no
 * receives, so however long the pause, SQS never moves it to the dead-letter queue for it; a resumed run
 * carries on within that delay plus RunControl's 2 s. Settled under the message's own key like any other
 * (functions/worker-follow-ups.ts): a later delivery of it (one that died after the hold, or one after the
 * resume) finds the hold settled and sends the same held message again (one key, counted once), never runs
 * its tasks a second time; and a message settled before is not held, its first settle's follow-ups go.
 */
export function heldSettlement(message: TaskMessage, holdSeconds: number): Settlement {
  const handOn = message.tasks.map((_, i) => i);
  const plan: FollowUpPlan = { v: PLAN_VERSION, retry: [], handOn, dead: [], holdSeconds };
  return { succeeded: 0, duplicates: 0, cancelled: 0, cancelledAt: [], plan, ...followUpsOf(message, plan) };
}

/**
 * A cancelled or failed run's message: its tasks end `cancelled`, nothing follows (settled like any other
 * message, so a delivery that finds it settled before still sends that settle's follow-ups). But those an
 * earlier delivery completed (`completed`, by id: their records in `task` mode) ran and succeeded: they count
 * succeeded, as on a last receive (last-receive.ts), not `cancelled`, which says a task never started.
 */
export function cancelledSettlement(
  message: TaskMessage,
  completed: ReadonlyMap<string, unknown> = new Map(),
): Settlement {
  const cancelledAt = message.tasks.flatMap((task, i) => (completed.has(task.id) ? [] : [i]));
  return {
    succeeded: 0,
    duplicates: message.tasks.length - cancelledAt.length,
    cancelled: cancelledAt.length,
    cancelledAt,
    plan: emptyPlan,
    retries: [],
    handedOn: [],
    deadLetters: [],
  };
}

/**
 * The outcome of a task its run no longer lets start (the cached record, re-read once it is 2 s old and
 * refreshed by each settle): a paused run's task is handed on unstarted (`paused`: an Invoke's goes to the
 * work queue, lib/fanout/invoke-chunk.ts); a cancelled or failed run's ends `cancelled`. Undefined when it may
 * start.
 */
export async function stoppedOutcome(
  ledger: RunLedger | undefined,
  message: TaskMessage,
  task: Pick<JobTask, 'id'>,
): Promise<TaskOutcome | undefined> {
  // view(), not peek(): once the cached copy is 2 s old no task starts before the shared re-read.
  const record = await ledger?.control.view(message.jobId, message.runId);
  if (!record || acceptsTasks(record.status)) return undefined;
  if (message.redrive && record.status !== RunStatuses.PAUSED) return undefined;
  const notStarted = { id: task.id, ok: false, attempts: 0, error: `run ${record.status}` };
  return record.status === RunStatuses.PAUSED
    ? { ...notStarted, retryable: true, unstarted: true, paused: true }
    : { ...notStarted, cancelled: true };
}

/**
 * `run` for `message`'s tasks, its run asked again right before each task's first request is sent
 * (runHttpTask's `beforeStart`): after any wait for its host's permit or rate token in the downstream policy,
 * which may last long enough for the run to be paused (or cancelled) meanwhile, and a paused run starts no
 * task. A task stopped there sent nothing and answers stoppedOutcome's outcome, as one stopped before it
 * waited: a paused run's is handed on unstarted, its attempt unspent. The run is asked again before each
 * retry too (`beforeRetry`, after its backoff or Retry-After wait): an operator who pauses a run because its
 * host is failing stops the retries to that host as well. A task stopped there keeps the attempts it made; a
 * paused run's is handed on all the same (the delivery unspent, its tries start over after the resume), a
 * cancelled run's ends `cancelled`. Without a ledger, `run` as it is.
 */
export function gatedRunner(
  ledger: RunLedger | undefined,
  message: TaskMessage,
  options: RunHttpTaskOptions,
  run: MessageTaskRunner,
): (task: JobTask) => Promise<TaskOutcome> {
  if (!ledger) return (task) => run(task, options);
  const stopped = new Map<string, TaskOutcome>();
  const gate = async (task: JobTask, what: string) => {
    const outcome = await stoppedOutcome(ledger, message, task);
    if (!outcome) return undefined;
    stopped.set(task.id, outcome);
    const why = `Task ${task.id} ${what}: ${outcome.error}`;
    return { name: 'RunStoppedError', code: ErrorCodes.ABORTED, message: why };
  };
  const gated = invocationOptions(options, {
    beforeStart: (task) => gate(task as JobTask, 'not started'),
    beforeRetry: (task) => gate(task as JobTask, 'not tried again'),
  });
  // The runner's outcome says only "unstarted" or a failure; the gate's says why (paused, or cancelled: counted so).
  return async (task) => {
    const outcome = await run(task, gated);
    const stop = stopped.get(task.id);
    if (!stop) return outcome;
    return outcome.attempts > 0 ? { ...stop, attempts: outcome.attempts, status: outcome.status } : stop;
  };
}
