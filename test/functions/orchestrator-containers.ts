// Orchestrators in containers of their own (each its runtime and clients, as each Lambda attempt may get), on
// the harness's real tables: the set-up of the tests of a segment taken over from a dead holder.
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import type { fakeContext, Harness } from './harness.js';

export type Orchestrator = (
  event: unknown,
  context: ReturnType<typeof fakeContext>,
) => Promise<OrchestratorResult>;

export interface OrchestratorContainer {
  readonly runtime: FunctionRuntime;
  readonly orchestrator: Orchestrator;
}

/** A maker of containers on `harness()`'s wiring, and a destroy of every container it made. */
export function orchestratorContainers(harness: () => Harness) {
  const runtimes: FunctionRuntime[] = [];
  return {
    async container(): Promise<OrchestratorContainer> {
      const { createRuntime } = await import('../../functions/runtime.js');
      const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
      const runtime = createRuntime(harness().env);
      runtimes.push(runtime);
      return { runtime, orchestrator: createOrchestratorHandler(() => runtime) };
    },
    async destroy(): Promise<void> {
      for (const rt of runtimes) await rt.destroy().catch(() => undefined);
    },
  };
}
