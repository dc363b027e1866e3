// The orchestrator and the worker through their real handlers, in one container each, with the orchestrator's
// continuations caught on a local Invoke endpoint for the test to deliver (or fail) itself, a real HTTP target
// on 127.0.0.1 counting requests, and an EventBridge of the test's own for the Run Finished events: the set-up
// of the tests of an orchestrator that fails for good (functions/orchestrator-failure.ts).
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars, type FanoutConfig, IdempotencyModes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import type { Edge } from '../../local/edge.js';
import { InvokeServer } from '../../local/invoke-server.js';
import { LocalFunction } from '../../local/local-function.js';
import { type fakeContext, type Harness, startEventBus, startHarness } from './harness.js';

type Handler<T> = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<T>;

export interface ContinuingHandlers {
  readonly h: Harness;
  readonly server: CountingServer;
  readonly runtime: FunctionRuntime;
  readonly ledger: JobLedger;
  readonly invoke: InvokeServer;
  readonly events: Edge;
  /** The orchestrator's name as its continuations and failure records give it. */
  readonly orchestratorName: string;
  /** The continuations the orchestrator sent, in order, not run. */
  readonly continuations: unknown[];
  readonly orchestrator: Handler<OrchestratorResult>;
  readonly worker: Handler<unknown>;
  destroy(): Promise<void>;
}

export async function startContinuingHandlers(
  orchestratorName: string,
  config: Partial<FanoutConfig> = {},
  env: Record<string, string> = {},
): Promise<ContinuingHandlers> {
  const server = await startCountingServer({ delayMs: 1 });
  const continuations: unknown[] = [];
  const invoke = new InvokeServer({
    functions: [
      new LocalFunction({
        name: orchestratorName,
        handler: (e) => void continuations.push(e),
        timeoutMs: 60_000,
      }),
    ],
    asyncRetryAttempts: 0,
  });
  const lambda = await invoke.listen();
  const h = await startHarness(
    { perInvocationConcurrency: 4, idempotency: IdempotencyModes.MESSAGE, deadlineMarginMs: 1000, ...config },
    { ...env, AWS_ENDPOINT_URL_LAMBDA: lambda },
  );
  h.env[EnvVars.ORCHESTRATOR_FUNCTION] = orchestratorName;
  const events = await startEventBus(h);
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  const runtime = createRuntime(h.env);
  return {
    h,
    server,
    runtime,
    ledger: runtime.ledger!,
    invoke,
    events,
    orchestratorName,
    continuations,
    orchestrator: createOrchestratorHandler(() => runtime),
    worker: createWorkerHandler(() => runtime) as Handler<unknown>,
    async destroy() {
      await invoke.close();
      await events.close();
      await runtime.destroy();
      await server.close();
      h.destroy();
    },
  };
}
