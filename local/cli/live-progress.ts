// What the progress display and the report's timeline show while a job runs, put together from what the local
// runtime hands out: its periodic LocalProgress (worker invocations and sockets in flight, queue depth) and the
// functions' EMF metric lines (tasks succeeded and dead-lettered per worker batch, the orchestrator's counts
// when a segment ends), read as they are written.
//
// The orchestrator's inline tasks in flight come with each LocalProgress (the runtime sees their requests on
// undici's diagnostics channels); before the first sample they are taken from `inlineFallback` where there is
// one (the demo's target server). The tasks queued are estimated from the queue's depth in messages times
// tasks per message.

import type { ProgressSnapshot } from '../report/types.js';
import type { LocalProgress } from '../run-local-job.js';

interface EmfLine {
  readonly service?: string;
  readonly _aws?: {
    readonly CloudWatchMetrics?: ReadonlyArray<{
      readonly Metrics?: ReadonlyArray<{ readonly Name: string }>;
    }>;
  };
  readonly [metric: string]: unknown;
}

const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

export class LiveProgress {
  readonly #tasksPerMessage: number;
  #last?: LocalProgress;
  #workerSucceeded = 0;
  #workerDeadLettered = 0;
  #orchestratorSucceeded = 0;
  #orchestratorFailed = 0;
  #inlineInFlight = 0;

  readonly #inlineFallback?: () => number;

  /**
   * `inlineFallback` counts inline tasks in flight where the runtime does not (the demo's target server counts
   * the requests of inline tasks on its side).
   */
  constructor({
    tasksPerMessage,
    inlineFallback,
  }: { tasksPerMessage: number; inlineFallback?: () => number }) {
    this.#tasksPerMessage = tasksPerMessage;
    this.#inlineFallback = inlineFallback;
  }

  /** The runtime's onProgress. */
  readonly onProgress = (progress: LocalProgress): void => {
    this.#last = progress;
    const inline = (progress as { inlineInFlight?: unknown }).inlineInFlight;
    if (typeof inline === 'number') this.#inlineInFlight = inline;
  };

  /** The runtime's functionLogs sink: every JSON line the functions write. */
  readonly onLogLine = (line: string): void => {
    if (!line.includes('"_aws"')) return;
    let emf: EmfLine;
    try {
      emf = JSON.parse(line) as EmfLine;
    } catch {
      return;
    }
    const names = new Set(
      (emf._aws?.CloudWatchMetrics ?? []).flatMap((m) => (m.Metrics ?? []).map((x) => x.Name)),
    );
    if (emf.service === 'worker') {
      if (names.has('TasksSucceeded')) this.#workerSucceeded += num(emf.TasksSucceeded);
      if (names.has('TasksDeadLettered')) this.#workerDeadLettered += num(emf.TasksDeadLettered);
    } else if (emf.service === 'orchestrator') {
      this.#orchestratorSucceeded += num(emf.Tasks_inlineSucceeded) + num(emf.Tasks_invokeSucceeded);
      this.#orchestratorFailed += num(emf.Tasks_deadLettered);
    }
  };

  /** Whether the runtime has reported inline tasks in flight (from its first sample on). */
  get hasInlineInFlight(): boolean {
    return (
      this.#last !== undefined &&
      typeof (this.#last as { inlineInFlight?: unknown }).inlineInFlight === 'number'
    );
  }

  /** Where the inline series comes from. */
  get inlineSource(): 'runtime' | 'target' | 'none' {
    if (this.hasInlineInFlight) return 'runtime';
    return this.#inlineFallback ? 'target' : 'none';
  }

  snapshot(): ProgressSnapshot {
    const p = this.#last;
    return {
      inlineInFlight: this.hasInlineInFlight ? this.#inlineInFlight : (this.#inlineFallback?.() ?? 0),
      workersInFlight: p?.workersInFlight ?? 0,
      socketsInFlight: p?.socketsOpen ?? 0,
      done: this.#workerSucceeded + this.#orchestratorSucceeded,
      failed: this.#workerDeadLettered + this.#orchestratorFailed,
      queued: p ? (p.queue.visible + p.queue.delayed) * this.#tasksPerMessage : 0,
    };
  }
}
