// The local runtime with the stack and no job (`bounded-fanout serve`): the embedded emulators behind the one
// local endpoint, the stack's resources created through it (so their queue URLs name the endpoint), both
// functions behind the Invoke endpoint, and the event-source poller driving the worker, until stopped. Anything
// that speaks AWS (an SDK client, the AWS CLI, `bounded-fanout run --endpoint`) can then use it as it would
// LocalStack, with the orchestrator and worker of this checkout as the stack's functions.
import { type FanoutConfig, functionConfig, resourceNames, withDefaults } from '../lib/config.js';
import { asyncDeadLetters } from './async-dead-letters.js';
import { stackFailureDestinations } from './async-destinations.js';
import { type Backend, BackendKinds, startBackend } from './backend.js';
import type { ListenAddress } from './edge-listen.js';
import { FunctionLogs, type LogSink } from './function-logs.js';
import { HttpObserver } from './http-observer.js';
import { InvokeServer } from './invoke-server.js';
import { jobEnvironment, withEnvironment } from './job-environment.js';
import { mappedSource } from './lambda-control.js';
import { buildFunctions, eventSourceOf } from './local-functions.js';
import { EventSourcePoller } from './poller.js';
import { QueueBacklog } from './queue-backlog.js';
import { createResources, type LocalResources, sqsClient } from './resources.js';
import { TaskLedger } from './task-ledger.js';

export interface ServeOptions {
  readonly config?: Partial<FanoutConfig>;
  /** Where the one endpoint listens (default 127.0.0.1:4566 when free, else a free port). */
  readonly listen?: ListenAddress;
  readonly region?: string;
  /** The functions' own log lines: dropped by default. */
  readonly functionLogs?: LogSink;
  readonly log?: (line: string) => void;
  /** About how many tasks the work queue may hold before the orchestrator's sends wait (as in a run). */
  readonly maxQueuedTasks?: number;
}

export interface ServeRuntime {
  /** The one endpoint: every service, and Lambda Invoke of the stack's functions. */
  readonly endpoint: string;
  readonly backend: Backend;
  readonly resources: LocalResources;
  readonly names: ReturnType<typeof resourceNames>;
  /** Stops taking work, lets running invocations end, closes everything. Safe to call more than once. */
  stop(): Promise<void>;
}

export async function startServeRuntime(options: ServeOptions = {}): Promise<ServeRuntime> {
  const config = withDefaults({ ...options.config });
  const names = resourceNames(config);
  const backend = await startBackend({
    kind: BackendKinds.EMULATORS,
    region: options.region,
    log: options.log ?? (() => {}),
    edge: { listen: options.listen },
  });
  const cleanups: (() => unknown)[] = [() => backend.stop()];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const resources = await createResources(config, backend);
    const sqs = sqsClient(backend);
    cleanups.push(() => sqs.destroy());
    const backlog = new QueueBacklog({
      sqs,
      queueUrl: resources.queueUrl,
      maxMessages: Math.ceil((options.maxQueuedTasks ?? 50_000) / config.tasksPerMessage),
    });
    const observer = new HttpObserver();
    const functions = buildFunctions(config, {}, backlog, observer, new TaskLedger(resources.queueUrl));
    const invokeServer = new InvokeServer({
      functions: [functions.orchestrator, functions.worker],
      deadLetters: asyncDeadLetters(sqs, { [names.orchestrator]: resources.orchestratorDeadLetterQueueUrl }),
      onFailure: stackFailureDestinations(names),
    });
    const lambdaEndpoint = await invokeServer.listen();
    cleanups.push(() => invokeServer.close());
    backend.edge?.setUpstream('lambda', lambdaEndpoint);
    cleanups.push(withEnvironment(jobEnvironment(config, backend, resources, names, lambdaEndpoint)));
    const logs = new FunctionLogs(options.functionLogs ?? 'silent').start();
    cleanups.push(() => logs.stop());
    cleanups.push(() => functions.close());
    const source = eventSourceOf(config, resources, sqs, functions.worker, backend.region);
    const poller = new EventSourcePoller(source).start();
    cleanups.push(() => poller.stop());
    invokeServer.addEventSource(mappedSource(poller, source));
    backend.edge?.setInfo(() => ({
      prefix: config.prefix,
      resources,
      functions: [names.orchestrator, names.worker],
      // What `limits` checks values against (local/cli/served-config.ts): the flags this serve was started with
      // (without the schedule's input, which may hold a whole inline manifest).
      config: functionConfig(config),
    }));
    return { endpoint: backend.edge?.url ?? backend.endpoints.sqs, backend, resources, names, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
