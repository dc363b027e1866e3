import type { JobTask } from '../manifest/schema.js';
import type { TaskMessage } from './messages.js';
import { errorText, type SegmentPorts } from './segment-ports.js';
import type { TaskOutcome } from './task-outcome.js';

/**
 * Invokes the worker with one chunk and pairs each task with its outcome: the worker's, or a failure when
 * the call itself failed or the worker said nothing of the task. Never rejects.
 */
export async function invokeChunk(
  ports: SegmentPorts,
  message: TaskMessage,
): Promise<{ readonly task: JobTask; readonly outcome: TaskOutcome }[]> {
  const { tasks } = message;
  let outcomes: readonly TaskOutcome[];
  try {
    outcomes = await ports.invoke(message);
  } catch (error) {
    const failed = `invoke failed: ${errorText(error)}`;
    outcomes = tasks.map((t) => ({ id: t.id, ok: false, attempts: 1, error: failed }));
  }
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  return tasks.map((task) => ({
    task,
    outcome: byId.get(task.id) ?? { id: task.id, ok: false, attempts: 1, error: 'no result from the worker' },
  }));
}
