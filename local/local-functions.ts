import type { SQSClient } from '@aws-sdk/client-sqs';
import { type FanoutConfig, reservationOf, resourceNames } from '../lib/config.js';
import type { HttpObserver } from './http-observer.js';
import { functionContainers, socketBudgetOf } from './load-functions.js';
import { type LocalContainer, LocalFunction } from './local-function.js';
import type { QueueBacklog } from './queue-backlog.js';
import type { ResendGuard } from './resend-guard.js';
import type { LocalResources } from './resources.js';
import type { RunLocalJobOptions } from './run-local-job-options.js';
import type { TaskLedger } from './task-ledger.js';
import { threadContainers } from './thread-container.js';
import { ThreadObservations } from './thread-observations.js';

// The stack's two functions on this machine (orchestrator and worker, with their containers), and the
// worker's event source as the stack declares it: shared by `run` and `serve`.

export type LocalFunctions = ReturnType<typeof buildFunctions>;

/** The worker's event source as the stack declares it: the queue, batch size, window and maximum concurrency. */
export function eventSourceOf(
  config: FanoutConfig,
  resources: LocalResources,
  sqs: SQSClient,
  worker: LocalFunction,
  region: string,
) {
  return {
    sqs,
    queueUrl: resources.queueUrl,
    queueArn: resources.queueArn,
    worker,
    batchSize: config.batchSize,
    maxConcurrency: config.workerMaxConcurrency,
    maxBatchingWindowMs: config.maxBatchingWindowSeconds * 1000,
    region,
  };
}

export function buildFunctions(
  config: FanoutConfig,
  options: RunLocalJobOptions,
  backlog: QueueBacklog,
  observer: HttpObserver,
  ledger: TaskLedger,
  resendGuard?: ResendGuard,
) {
  const names = resourceNames(config);
  const observations = new ThreadObservations({ functionNames: [names.worker] });
  if (options.containers === 'threads') observer.include(observations);
  const worker = new LocalFunction({
    name: names.worker,
    timeoutMs: options.workerTimeoutMs ?? config.workerTimeoutSeconds * 1000,
    memoryMb: config.workerMemoryMb,
    reservedConcurrency: reservationOf(config.workerReservedConcurrency),
    container: workerContainers(options, ledger, names.worker, observations, config.workerMemoryMb, observer),
  });
  const orchestrator = new LocalFunction({
    name: names.orchestrator,
    timeoutMs: options.orchestratorTimeoutMs ?? config.orchestratorTimeoutSeconds * 1000,
    memoryMb: config.orchestratorMemoryMb,
    reservedConcurrency: reservationOf(config.orchestratorReservedConcurrency),
    container: functionContainers(
      'orchestrator',
      options.faults?.wrapOrchestrator,
      (rt) => {
        backlog.attach(rt.aws.sqs);
        ledger.attach(rt.aws.sqs);
        resendGuard?.attach(rt.aws.sqs);
      },
      observer.interceptor(names.orchestrator),
    ),
  });
  return {
    worker,
    orchestrator,
    /** Sockets the functions' HTTP agents hold open now, and the most any one container held at once. */
    sockets() {
      let open = 0;
      let perContainer = 0;
      for (const fn of [worker, orchestrator]) {
        for (const container of fn.containers) {
          const budget = socketBudgetOf(container);
          open += budget.open;
          perContainer = Math.max(perContainer, budget.peak);
        }
      }
      return { open, perContainer };
    },
    tasksInFlight: (functionName: string) => observer.inFlight(functionName),
    async close() {
      await Promise.all([worker.close(), orchestrator.close()]);
    },
  };
}

/**
 * The worker's containers: in this process (`inline`, the default), or each on its own thread (`threads`:
 * local/thread-container.ts). The orchestrator stays in this process either way: the local queue's hold on its
 * sends (local/queue-backlog.ts) is a middleware that waits on this process's view of the queue.
 */
function workerContainers(
  options: RunLocalJobOptions,
  ledger: TaskLedger,
  functionName: string,
  observations: ThreadObservations,
  memoryMb: number,
  observer: HttpObserver,
): () => LocalContainer {
  if (options.containers !== 'threads') {
    return functionContainers(
      'worker',
      options.faults?.wrapWorker,
      (rt) => ledger.attach(rt.aws.sqs),
      observer.interceptor(functionName),
    );
  }
  return threadContainers({
    kind: 'worker',
    functionName,
    observations,
    memoryMb,
    reportSendsTo: ledger.queueUrl,
    onSent: ({ input, output }) => ledger.recordSend(input, output),
    wrap: options.faults?.wrapWorker,
  });
}
