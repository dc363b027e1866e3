// Execution environments for the real handlers. Lambda gives each container its own copy of a function's
// modules; the handlers keep per-container state at module level (Powertools' BatchProcessor, Logger,
// Metrics), which must not be shared by two invocations running at once. So each local container imports
// its handler module afresh (a distinct module URL per container: its own instance; the stateless lib/
// modules under it stay shared) and builds its own runtime: AWS clients, HTTP agents, idempotency stores.
// Imports happen in the container's init phase (a cold start, outside the invocation timeout), after the
// job's environment is set.
import type { Context } from 'aws-lambda';
import type { Dispatcher } from 'undici';
import type { FunctionRuntime } from '../functions/runtime.js';
import { bundleBase } from './bundle-base.js';
import type { LambdaHandler, LocalContainer } from './local-function.js';

type WorkerModule = typeof import('../functions/worker.js');
type OrchestratorModule = typeof import('../functions/orchestrator.js');
type RuntimeModule = typeof import('../functions/runtime.js');

/** A container whose runtime is visible to the local runtime (for its socket counts). */
export interface FunctionContainer extends LocalContainer {
  readonly runtime: FunctionRuntime | undefined;
}

/** Any container's sockets: an in-process one's agents, or what a thread last wrote (thread-container.ts). */
export function socketBudgetOf(container: LocalContainer): { open: number; peak: number } {
  const threaded = container as { socketBudget?: () => { open: number; peak: number } };
  if (threaded.socketBudget) return threaded.socketBudget();
  const budget = (container as FunctionContainer).runtime?.http.budget;
  return { open: budget?.open ?? 0, peak: budget?.peak ?? 0 };
}

let containerSeq = 0;

/** A factory of containers for one function: `kind` names which handler module it loads. */
export function functionContainers(
  kind: 'worker' | 'orchestrator',
  wrap: (handler: LambdaHandler) => LambdaHandler = (handler) => handler,
  /** Sees each container's runtime once it is built (the local runtime adds its SQS backlog hold here). */
  onRuntime?: (runtime: FunctionRuntime) => void,
  /** Every task request of the container's goes through it (the local runtime's HttpObserver.interceptor). */
  observeTasks?: Dispatcher.DispatcherComposeInterceptor,
): () => FunctionContainer {
  return () => {
    const seq = ++containerSeq;
    let runtime: FunctionRuntime | undefined;
    let handler: LambdaHandler | undefined;
    let killed = false;
    const init = async () => {
      const { createRuntime } = (await import('../functions/runtime.js')) as RuntimeModule;
      const rt = withTaskInterceptor(createRuntime(process.env), observeTasks);
      runtime = rt;
      fence(rt, () => killed);
      onRuntime?.(rt);
      // A specifier computed at run time (bundlers must not rewrite it): the query makes the module URL
      // distinct, so this container gets its own instance of the handler module.
      const base = bundleBase();
      const module = `functions/${kind}.js?container=${seq}`;
      const specifier = base ? new URL(module, base).href : `../${module}`;
      const mod = (await import(/* @vite-ignore */ specifier)) as WorkerModule & OrchestratorModule;
      handler = (
        kind === 'worker' ? mod.createWorkerHandler(() => rt) : mod.createOrchestratorHandler(() => rt)
      ) as LambdaHandler;
    };
    const inner: LambdaHandler = (event: unknown, context: Context) => handler!(event, context);
    return {
      handler: wrap(inner),
      init,
      get runtime() {
        return runtime;
      },
      // Lambda kills a sandbox that timed out: nothing it does afterwards reaches AWS or a task's host. This
      // one cannot be killed (it shares the process), so it is fenced: every AWS call it makes from now on
      // fails, and its HTTP sockets are closed (its in-flight requests fail, new ones cannot open).
      timedOut: () => {
        killed = true;
        void runtime?.http.destroy();
      },
      destroy: () => runtime?.destroy(),
    };
  };
}

/**
 * Every AWS call of the runtime's clients fails once `killed()` (a sandbox Lambda killed sends nothing): checked
 * when a call starts and again before each attempt goes on the wire (after the retry middleware, which re-runs
 * the later steps per attempt), so a call already past the first check at the kill makes no retry either.
 */
function fence(rt: FunctionRuntime, killed: () => boolean): void {
  const { sqs, lambda, s3, dynamodb, events } = rt.aws;
  const clients = [sqs, lambda, s3, dynamodb, events] as unknown as readonly {
    middlewareStack: { add(middleware: FenceMiddleware, options: object): void };
  }[];
  const guard: FenceMiddleware = (next, context) => (args) => {
    if (killed()) {
      const error = new Error(`${context.commandName ?? 'call'} after the invocation timed out`);
      error.name = 'Sandbox.Timedout';
      return Promise.reject(error);
    }
    return next(args);
  };
  for (const client of clients) {
    client.middlewareStack.add(guard, { step: 'initialize', name: 'localSandboxFence' });
    // Last of its step: after the retry middleware (priority high) and the signing placed after it.
    client.middlewareStack.add(guard, {
      step: 'finalizeRequest',
      priority: 'low',
      name: 'localSandboxFenceAttempt',
    });
  }
}

/** A middleware of any step that only decides whether to call `next`. */
type FenceMiddleware = (
  next: (args: object) => Promise<unknown>,
  context: { readonly commandName?: string },
) => (args: object) => Promise<unknown>;

/**
 * The runtime whose tasks dispatch through `interceptor` too: the same runtime (clients, agents, budgets, destroy)
 * with its task options' dispatcher composed. The function code reads its dispatcher from there, unchanged.
 */
function withTaskInterceptor(
  rt: FunctionRuntime,
  interceptor: Dispatcher.DispatcherComposeInterceptor | undefined,
): FunctionRuntime {
  if (!interceptor) return rt;
  return {
    ...rt,
    taskOptions: { ...rt.taskOptions, dispatcher: rt.taskOptions.dispatcher.compose(interceptor) },
  };
}
