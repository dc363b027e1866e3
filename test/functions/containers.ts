// Worker containers of their own, as Lambda gives each invocation environment: the set-up shared by the tests
// that deliver one message to several containers (redeliveries, redrives, holds) against the harness's real
// queues and tables, with an EventBridge of their own so each test can count its run's Run Finished events.
import type { FunctionRuntime } from '../../functions/runtime.js';
import type { FanoutConfig } from '../../lib/config.js';
import { EnvVars, type IdempotencyMode, IdempotencyModes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import type { Edge } from '../../local/edge.js';
import { drainQueue, fakeContext, type Harness, sqsEvent, startEventBus, startHarness } from './harness.js';

export type Worker = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

export interface Containers {
  readonly h: Harness;
  readonly events: Edge;
  /** The job ledger, through the orchestrator's container. */
  readonly ledger: JobLedger;
  /** An orchestrator in a container of its own (idempotency per message). */
  readonly orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;
  /** A container of its own: its clients, its caches, its idempotency mode. */
  container(idempotency: IdempotencyMode): FunctionRuntime;
  /** The worker handler of a container. */
  workerOf(rt: FunctionRuntime): Worker;
  /** Hands what the work queue holds to `worker`, ten at a time, until it is empty. */
  drain(worker: Worker): Promise<void>;
  destroy(): Promise<void>;
}

export async function startContainers(config: Partial<FanoutConfig>): Promise<Containers> {
  const h = await startHarness(config);
  const events = await startEventBus(h);
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  const runtimes: FunctionRuntime[] = [];
  const container = (idempotency: IdempotencyMode) => {
    const rt = createRuntime({ ...h.env, [EnvVars.CONFIG]: JSON.stringify({ ...h.config, idempotency }) });
    runtimes.push(rt);
    return rt;
  };
  const runtime = container(IdempotencyModes.MESSAGE);
  return {
    h,
    events,
    ledger: runtime.ledger!,
    orchestrator: createOrchestratorHandler(() => runtime) as Containers['orchestrator'],
    container,
    workerOf: (rt) => createWorkerHandler(() => rt) as Worker,
    async drain(worker) {
      for (let i = 0; i < 20; i++) {
        const messages = await drainQueue(h.sqs, h.resources.queueUrl);
        if (messages.length === 0) return;
        for (let j = 0; j < messages.length; j += 10)
          await worker(sqsEvent(messages.slice(j, j + 10)), fakeContext());
      }
      throw new Error('queue not empty after 20 rounds');
    },
    async destroy() {
      for (const rt of runtimes) await rt.destroy();
      await events.close();
      h.destroy();
    },
  };
}
