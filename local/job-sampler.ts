// Watches a local job while it runs: the sockets the functions' HTTP agents hold (summed over every
// container every few milliseconds: a lower bound on the true peak), and, for a progress display, a
// snapshot of invocations, sockets and queue depth every `progressIntervalMs`.
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { LocalFunction } from './local-function.js';
import { queueDepth } from './queue-depth.js';

/** What the runtime sees while a job runs, every `progressIntervalMs`. */
export interface LocalProgress {
  /** Milliseconds since the job started. */
  readonly t: number;
  readonly orchestratorsInFlight: number;
  readonly workersInFlight: number;
  /** Sockets the functions' HTTP agents hold open now, summed over every container. */
  readonly socketsOpen: number;
  readonly queue: { readonly visible: number; readonly inFlight: number; readonly delayed: number };
  readonly workerContainers: number;
  /** The orchestrator's inline tasks with an HTTP request in flight now (seen on undici's channels). */
  readonly inlineInFlight: number;
  /** The workers' task requests in flight now, over every invocation. */
  readonly workerTasksInFlight: number;
  /** The worker's event source's MaximumConcurrency now (`limits` may change it while the run runs). */
  readonly eventSourceMaxConcurrency: number;
}

export interface SampledFunctions {
  readonly orchestrator: LocalFunction;
  readonly worker: LocalFunction;
  sockets(): { open: number; perContainer: number };
  /** Task requests in flight now, per function name. */
  tasksInFlight(functionName: string): number;
}

export interface SamplerOptions {
  readonly onProgress?: (progress: LocalProgress) => void;
  readonly progressIntervalMs?: number;
}

/** Sockets are summed every few milliseconds (a lower bound on the true peak); progress less often. */
const SOCKET_SAMPLE_MS = 5;

export function startSampler(
  options: SamplerOptions,
  started: number,
  functions: SampledFunctions,
  sqs: SQSClient,
  queueUrl: string,
  eventSourceMaxConcurrency: () => number,
) {
  let peakSockets = 0;
  const sockets = setInterval(() => {
    peakSockets = Math.max(peakSockets, functions.sockets().open);
  }, SOCKET_SAMPLE_MS);
  let sampling = false;
  const sample = async () => {
    if (!options.onProgress || sampling) return;
    sampling = true;
    try {
      const depth = await queueDepth(sqs, queueUrl);
      options.onProgress({
        t: Date.now() - started,
        orchestratorsInFlight: functions.orchestrator.inFlight,
        workersInFlight: functions.worker.inFlight,
        socketsOpen: functions.sockets().open,
        queue: { visible: depth.visible, inFlight: depth.inFlight, delayed: depth.delayed },
        workerContainers: functions.worker.containers.length,
        inlineInFlight: functions.tasksInFlight(functions.orchestrator.name),
        workerTasksInFlight: functions.tasksInFlight(functions.worker.name),
        eventSourceMaxConcurrency: eventSourceMaxConcurrency(),
      });
    } catch {
      // A sample that cannot be taken is skipped; the run does not depend on it.
    } finally {
      sampling = false;
    }
  };
  const progress = options.onProgress
    ? setInterval(() => void sample(), options.progressIntervalMs ?? 250)
    : undefined;
  return {
    get peakSockets() {
      return peakSockets;
    },
    stop() {
      clearInterval(sockets);
      clearInterval(progress);
    },
  };
}
