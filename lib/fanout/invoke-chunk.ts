import type { JobTask } from '../manifest/schema.js';
import type { FailureBudget } from './failure-budget.js';
import { type DeadLetterTask, deadLetterTask, type TaskMessage } from './messages.js';
import { type TaskPacket, taskPacket, wireItem } from './packets.js';
import type { SegmentCopy } from './segment-copy.js';
import { CUT_OFF, errorText, type SegmentPorts } from './segment-ports.js';
import { handOnKey } from './settle.js';
import type { JobCounts } from './summary.js';
import type { TaskOutcome } from './task-outcome.js';

export interface InvokedTask {
  readonly task: JobTask;
  readonly outcome: TaskOutcome;
}

/**
 * Invokes the worker with one chunk and pairs each task with its outcome: the worker's, or a failure when
 * the call itself failed or the worker said nothing of the task. Never rejects.
 */
export async function invokeChunk(
  ports: SegmentPorts,
  message: TaskMessage,
  cutoff?: AbortSignal,
): Promise<InvokedTask[]> {
  const { tasks } = message;
  let outcomes: readonly TaskOutcome[];
  try {
    outcomes = await ports.invoke(message, cutoff);
  } catch (error) {
    // Abandoned at the cutoff: what its worker does is not counted here, and the tasks are dead-lettered.
    const failed = `${cutoff?.aborted ? `${CUT_OFF}: ` : ''}invoke failed: ${errorText(error)}`;
    outcomes = tasks.map((t) => ({ id: t.id, ok: false, attempts: 1, error: failed }));
  }
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  return tasks.map((task) => ({
    task,
    outcome: byId.get(task.id) ?? { id: task.id, ok: false, attempts: 1, error: 'no result from the worker' },
  }));
}

/** Left unstarted because its run is paused: no failure, handed to the work queue (pausedPacket). */
export const pausedInvoke = (outcome: TaskOutcome): boolean =>
  outcome.unstarted === true && outcome.paused === true;

/**
 * The chunk's tasks its paused run left unstarted, as one task message for the work queue: the chunk's
 * envelope (same attempt) under the key of a hand-on, `<chunk key>~1` (settle.ts handOnKey), never a key
 * of the segment's sequence. The worker holds it while the run stays paused and runs it after the resume;
 * the ledger counts its tasks when it settles, as any queued task's. A chunk is packed to SQS's message
 * size, so any part of it fits one message. Undefined when the pause left none.
 *
 * With the segment's `copy`, the key is the copy's own, `<chunk key>@<copy id>~1`, and the message carries
 * the copy: two copies of a segment may find the run paused and not, and hand back different tasks; under
 * one key the worker would run whichever came first. Apart, the worker runs only the hand-off of the copy
 * whose settle counted, which counted the chunk's other tasks (functions/segment-copies.ts).
 */
export function pausedPacket(
  message: TaskMessage,
  answered: readonly InvokedTask[],
  copy?: SegmentCopy,
): TaskPacket | undefined {
  const paused = answered.filter((a) => pausedInvoke(a.outcome)).map((a) => wireItem(a.task));
  if (paused.length === 0) return undefined;
  const { tasks: _, ...envelope } = message;
  // An SQS batch entry id: the chunk's sequence number (no message of the segment has the same).
  const id = `p${message.key.slice(message.key.lastIndexOf(':') + 1)}`;
  const key = handOnKey(copy ? `${message.key}@${copy.id}` : message.key);
  return taskPacket(id, { ...envelope, key, ...(copy ? { copy } : {}) }, paused);
}

/** Where a chunk's outcomes go: the segment's counts and failure budget, its dead-letter and task lanes. */
export interface ChunkSink {
  readonly counts: JobCounts;
  readonly budget: FailureBudget;
  /** The segment's cutoff: an Invoke still running when it fires is abandoned. */
  readonly cutoff?: AbortSignal;
  /** The segment's copy, on a paused chunk's hand-off (pausedPacket). */
  readonly copy?: SegmentCopy;
  deadLetter(record: DeadLetterTask): Promise<void>;
  /** A task message to the work queue, through the segment's send lane (it waits while the lane is full). */
  enqueue(packet: TaskPacket): Promise<void>;
}

/**
 * One Invoke of a chunk, each task counted by its outcome: succeeded; `cancelled` (its run was cancelled or
 * failed while the chunk waited), not a failure; left unstarted because its run is paused, handed to the work
 * queue (pausedPacket), not a failure, counted when that message settles; any other failure is recorded in
 * the budget and dead-lettered (invoke mode has no redelivery), a task the worker had no time to start (its
 * deadline) with no delivery spent.
 */
export async function runChunk(ports: SegmentPorts, message: TaskMessage, sink: ChunkSink): Promise<void> {
  const { counts, budget } = sink;
  counts.invokeCalls++;
  const answered = await invokeChunk(ports, message, sink.cutoff);
  const paused = pausedPacket(message, answered, sink.copy);
  if (paused) await sink.enqueue(paused);
  for (const { task, outcome } of answered) {
    if (pausedInvoke(outcome)) continue;
    if (outcome.cancelled) {
      counts.cancelled++;
      continue;
    }
    budget.record(outcome.ok);
    if (outcome.ok) counts.invokeSucceeded++;
    else {
      counts.invokeFailed++;
      const error = outcome.error ?? `status ${outcome.status}`;
      await sink.deadLetter(deadLetterTask(task, outcome.unstarted ? 0 : 1, error, outcome.status));
    }
  }
}
