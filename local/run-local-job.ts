// Runs one whole job on this machine and resolves to its report. It starts (or reuses) the AWS side,
// creates the stack's resources from the shared config, serves the Lambda Invoke API on loopback, points
// the standard endpoint variables at all of it, invokes the orchestrator with the job event as the
// schedule would, and lets the local event-source poller drive the worker until the queue is empty and no
// invocation runs. The counts come from what the functions really did, never from the manifest alone:
//   submitted, invalid        the orchestrator's final summary (tasks read, tasks refused by the schema);
//   succeeded                 inline and invoked successes from that summary, plus the worker's own
//                             TasksSucceeded EMF metric over all its invocations;
//   deadLettered              tasks found in the dead-letter queue at the end (left there for a redrive);
//   unfinished                after a stop: the tasks of messages sent to the work queue and never settled
//                             (local/task-ledger.ts), and the manifest's tasks never read (manifest-tail.ts).
// `unaccounted = submitted - succeeded - deadLettered - invalid - unfinished` is reported, not assumed zero.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import {
  EnvVars,
  type FanoutConfig,
  functionConfig,
  reservationOf,
  resourceNames,
  toEnvironment,
  withDefaults,
} from '../lib/config.js';
import { assertInteger } from '../lib/errors.js';
import { Semaphore } from '../lib/semaphore.js';
import { type BackendInfo, type BackendKind, backendEnvironment, startBackend } from './backend.js';
import { readDeadLetters } from './dead-letters.js';
import { FunctionLogs, type LogSink } from './function-logs.js';
import { HttpObserver } from './http-observer.js';
import { type AsyncInvocationRecord, InvokeServer } from './invoke-server.js';
import { buildReport, type LocalJobReport, type OrchestratorOutcome } from './job-report.js';
import { type LocalProgress, startSampler } from './job-sampler.js';
import { type FunctionContainer, functionContainers } from './load-functions.js';
import { type LambdaHandler, LocalFunction } from './local-function.js';
import { ownEndpointEntries } from './own-endpoints.js';
import { EventSourcePoller } from './poller.js';
import { QueueBacklog } from './queue-backlog.js';
import { queueDepth } from './queue-depth.js';
import { createResources, type LocalResources, sqsClient } from './resources.js';
import { readRunRecord } from './run-record.js';
import { cutOffWhen, listen, manifestTail } from './run-stop.js';
import { TaskLedger } from './task-ledger.js';

export type { LocalJobReport } from './job-report.js';
export type { LocalProgress } from './job-sampler.js';

export interface RunLocalJobFaults {
  /** Deliver each asynchronous invocation (the orchestrator's continuations) this many times. */
  readonly asyncDeliveries?: number;
  /** Lose the delete of a processed message (it is redelivered after the visibility timeout). */
  readonly loseDelete?: (record: SQSRecord) => boolean;
  /** Wrap each worker container's handler (to make it throw mid-batch, say). */
  readonly wrapWorker?: (handler: LambdaHandler) => LambdaHandler;
}

export interface RunLocalJobOptions {
  /** The shared config (defaults fill the rest): limits, names, queue settings. */
  readonly config?: Partial<FanoutConfig>;
  /** A backend already started (its endpoints are used as they are), or the kind to start for this job. */
  readonly backend?: BackendInfo | BackendKind;
  /** Invocation timeouts, when not the config's whole seconds (tests force deadlines with these). */
  readonly orchestratorTimeoutMs?: number;
  readonly workerTimeoutMs?: number;
  readonly faults?: RunLocalJobFaults;
  /** The functions' own log lines: dropped by default (their EMF metrics are read either way). */
  readonly functionLogs?: LogSink;
  readonly onProgress?: (progress: LocalProgress) => void;
  /** Sees every batch the poller receives, before the worker does (tracing, tests). */
  readonly onReceive?: (records: readonly SQSRecord[]) => void;
  readonly progressIntervalMs?: number;
  /**
   * Stops the run: no receive starts, the orchestrator reads no further (its continuation is kept, not run),
   * running invocations finish. Unfinished work stays in the queue, and the report lists it (`unfinishedTasks`).
   */
  readonly signal?: AbortSignal;
  /**
   * Cuts a stopping run off: the running invocations are let go of (their results ignored, their messages left
   * in the queue) and the report is built at once from what had ended. Their tasks are listed as unfinished.
   */
  readonly cutOff?: AbortSignal;
  /** Upper bound on the whole run; past it the report says `interrupted`. 10 minutes by default. */
  readonly timeoutMs?: number;
  /** Where the backend choice is printed. */
  readonly log?: (line: string) => void;
  /**
   * About how many tasks the local work queue may hold before the orchestrator's sends wait for the workers
   * (the emulator keeps the backlog in this process's memory). 50,000 by default.
   */
  readonly maxQueuedTasks?: number;
  /**
   * Keep the job ledger (default true): false leaves the functions without a job table, so the report's
   * counts come from the runtime's own observations (bench/pipeline.ts measures the ledger's cost with it).
   */
  readonly ledger?: boolean;
}

// One job at a time per process: the endpoint variables and the functions' stdout are process-wide.
const oneAtATime = new Semaphore(1);

export async function runLocalJob(
  jobEvent: unknown,
  options: RunLocalJobOptions = {},
): Promise<LocalJobReport> {
  return oneAtATime.run(() => runExclusive(jobEvent, options));
}

async function runExclusive(jobEvent: unknown, options: RunLocalJobOptions): Promise<LocalJobReport> {
  const started = Date.now();
  const config = withDefaults({ ...options.config });
  const maxQueuedTasks = assertInteger('maxQueuedTasks', options.maxQueuedTasks ?? 50_000, { min: 1 });
  const names = resourceNames(config);
  const owned =
    typeof options.backend === 'object'
      ? undefined
      : await startBackend({ kind: options.backend, log: options.log });
  const backend: BackendInfo = owned ?? (options.backend as BackendInfo);
  const cleanups: (() => unknown)[] = [];
  const logs = new FunctionLogs(options.functionLogs ?? 'silent');
  try {
    const resources = await createResources(config, backend);
    const sqs = sqsClient(backend);
    cleanups.push(() => sqs.destroy());
    const backlog = new QueueBacklog({
      sqs,
      queueUrl: resources.queueUrl,
      signal: options.signal,
      maxMessages: Math.ceil(maxQueuedTasks / config.tasksPerMessage),
    });
    const observer = new HttpObserver().start();
    cleanups.push(() => observer.stop());
    const ledger = new TaskLedger(resources.queueUrl);
    const functions = buildFunctions(config, options, backlog, observer, ledger);
    const stopping = () => options.signal?.aborted === true;
    const cut = cutOffWhen(options.cutOff);
    const invokeServer = new InvokeServer({
      functions: [functions.orchestrator, functions.worker],
      asyncDeliveries: options.faults?.asyncDeliveries ?? 1,
      // Once stopping, the orchestrator's continuation is kept: the rest of the manifest is listed, not enqueued.
      holdAsync: (name) => name === names.orchestrator && stopping(),
    });
    const lambdaEndpoint = await invokeServer.listen();
    cleanups.push(() => invokeServer.close());
    // The one local endpoint serves this run's Invoke endpoint as Lambda while the run lasts.
    const edge = backend.edge;
    if (edge) {
      edge.setUpstream('lambda', lambdaEndpoint);
      cleanups.push(() => edge.setUpstream('lambda', undefined));
    }
    cleanups.push(
      withEnvironment(
        jobEnvironment(config, backend, resources, names, lambdaEndpoint, options.ledger !== false),
      ),
    );
    logs.start();
    // After a cut-off the invocations let go of still log: their lines stay off the CLI's stdout and stderr.
    cleanups.push(() => {
      if (!cut.done) logs.stop();
    });
    cleanups.push(() => functions.close());

    const poller = new EventSourcePoller({
      ...eventSourceOf(config, resources, sqs, functions.worker, backend.region),
      loseDelete: options.faults?.loseDelete,
      onReceive: options.onReceive,
      onSettled: (ids) => ledger.settled(ids),
    }).start();
    cleanups.push(() => poller.stop());
    // Stopping takes no new work at once: no receive starts, while the running invocations finish. The
    // orchestrator's running invocation sees no time left, so it stops reading and hands on a continuation,
    // which is kept (holdAsync above); what it enqueued stays in the queue, unstarted.
    const stop = () => {
      functions.orchestrator.hurry();
      void poller.stop();
    };
    // Cut off: the worker's counts and the ledger are taken at the same instant, and nothing the let-go
    // invocations do later changes either (a task is counted once: succeeded, or open in the ledger).
    const cutOff = () => {
      poller.abandon();
      logs.freeze();
      ledger.freeze();
    };
    listen(options.signal, stop, cleanups);
    listen(options.cutOff, cutOff, cleanups);

    const sampler = startSampler(options, started, functions, sqs, resources.queueUrl);
    cleanups.push(() => sampler.stop());

    // The schedule's invocation. Continuations arrive through the Invoke endpoint as Event invocations.
    // Even a cut-off waits for the orchestrator: its counts are known only when it returns, and once stopping
    // it reads no further, so only its tasks already running remain (a third Ctrl-C in the CLI does not wait).
    const first = await invokeFirst(functions.orchestrator, jobEvent);
    const interrupted = await drain({
      options,
      started,
      poller,
      invokeServer,
      functions,
      sqs,
      queueUrl: resources.queueUrl,
    });
    await cut.race(poller.stop(), () => undefined);
    // The orchestrator's asynchronous invocations (continuations started before the stop; later ones are kept).
    await invokeServer.idle();
    sampler.stop();

    const outcome = orchestratorOutcome(first, invokeServer.asyncInvocations, names.orchestrator);
    const deadLetters = await readDeadLetters(sqs, resources.deadLetterQueueUrl, outcome);
    const tail = await manifestTail(backend, invokeServer, names.orchestrator);
    const run =
      options.ledger === false ? undefined : await readRunRecord(backend, resources, config, outcome);
    return await buildReport({
      ...(run ? { run } : {}),
      config,
      jobEvent,
      backend,
      started,
      interrupted,
      outcome,
      deadLetters,
      logs,
      worker: functions.worker,
      pollerStats: poller.stats,
      sockets: { total: sampler.peakSockets, perContainer: functions.sockets().perContainer },
      resources,
      latency: observer.latency(),
      ledger,
      tail,
      cutOff: cut.done,
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    // The invocations let go of by a cut-off still use the emulators (dynalite throws on a closed database):
    // a backend of the run's own is then left to end with the process.
    if (!options.cutOff?.aborted) await owned?.stop();
  }
}

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
) {
  const names = resourceNames(config);
  const worker = new LocalFunction({
    name: names.worker,
    timeoutMs: options.workerTimeoutMs ?? config.workerTimeoutSeconds * 1000,
    memoryMb: config.workerMemoryMb,
    reservedConcurrency: reservationOf(config.workerReservedConcurrency),
    container: functionContainers('worker', options.faults?.wrapWorker, (rt) => ledger.attach(rt.aws.sqs)),
  });
  const orchestrator = new LocalFunction({
    name: names.orchestrator,
    timeoutMs: options.orchestratorTimeoutMs ?? config.orchestratorTimeoutSeconds * 1000,
    memoryMb: config.orchestratorMemoryMb,
    reservedConcurrency: reservationOf(config.orchestratorReservedConcurrency),
    container: functionContainers('orchestrator', undefined, (rt) => {
      backlog.attach(rt.aws.sqs);
      ledger.attach(rt.aws.sqs);
    }),
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
          const budget = (container as FunctionContainer).runtime?.http.budget;
          open += budget?.open ?? 0;
          perContainer = Math.max(perContainer, budget?.peak ?? 0);
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

export function jobEnvironment(
  config: FanoutConfig,
  backend: BackendInfo,
  resources: LocalResources,
  names: ReturnType<typeof resourceNames>,
  lambdaEndpoint: string,
  ledger = true,
): Record<string, string> {
  return {
    ...backendEnvironment(backend, lambdaEndpoint),
    [EnvVars.CONFIG]: toEnvironment(functionConfig(config)),
    [EnvVars.REFUSE_HOSTS]: ownEndpointEntries([
      ...Object.values(backend.endpoints),
      lambdaEndpoint,
      backend.edge?.url,
    ]).join(','),
    [EnvVars.QUEUE_URL]: resources.queueUrl,
    [EnvVars.DLQ_URL]: resources.deadLetterQueueUrl,
    [EnvVars.IDEMPOTENCY_TABLE]: resources.idempotencyTable,
    [EnvVars.JOB_TABLE]: ledger ? resources.jobTable : '',
    [EnvVars.BUCKET]: resources.bucket,
    [EnvVars.WORKER_FUNCTION]: names.worker,
    [EnvVars.ORCHESTRATOR_FUNCTION]: names.orchestrator,
    // `{ "env": NAME }` header references read this process's environment (refused in Lambda).
    [EnvVars.SECRETS_FROM_ENV]: '1',
    // One JSON line per log record and EMF metrics on: the runtime reads the worker's counts from them.
    POWERTOOLS_DEV: 'false',
    POWERTOOLS_METRICS_DISABLED: 'false',
  };
}

/** Sets the variables for the run; the returned function puts the previous values back. */
export function withEnvironment(vars: Record<string, string>): () => void {
  const previous = new Map(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

async function invokeFirst(orchestrator: LocalFunction, jobEvent: unknown) {
  const requestId = randomUUID();
  try {
    return { requestId, result: await orchestrator.invoke(jobEvent, { awsRequestId: requestId }) };
  } catch (error) {
    return { requestId, error: `${(error as Error)?.name}: ${(error as Error)?.message ?? String(error)}` };
  }
}

function orchestratorOutcome(
  first: { requestId: string; result?: unknown; error?: string },
  asyncRecords: readonly AsyncInvocationRecord[],
  orchestratorName: string,
): OrchestratorOutcome {
  const mine = asyncRecords.filter((r) => r.functionName === orchestratorName);
  const results = [first.result, ...mine.filter((r) => r.status === 'succeeded').map((r) => r.result)];
  const errors = [first.error, ...mine.filter((r) => r.status === 'failed').map((r) => r.error)].filter(
    (e): e is string => e !== undefined,
  );
  type Result = {
    status?: string;
    summary?: { jobId?: string; runId?: string };
    jobId?: string;
    runId?: string;
  };
  const final = results.find((r): r is Result =>
    ['succeeded', 'failed', 'refused'].includes((r as Result)?.status ?? ''),
  );
  const statuses = results.map((r) => (r as Result)?.status ?? 'error');
  const named = results.find((r) => (r as Result)?.runId) as Result | undefined;
  return {
    jobId: final?.summary?.jobId ?? named?.jobId,
    runId: final?.summary?.runId ?? named?.runId,
    final: final as OrchestratorOutcome['final'],
    invocations: 1 + mine.length,
    continuations: statuses.filter((s) => s === 'continued').length,
    duplicates: statuses.filter((s) => s === 'duplicate').length,
    errors,
  };
}

interface DrainArgs {
  options: RunLocalJobOptions;
  started: number;
  poller: EventSourcePoller;
  invokeServer: InvokeServer;
  functions: LocalFunctions;
  sqs: ReturnType<typeof sqsClient>;
  queueUrl: string;
}

/** Waits until no invocation runs or waits and the queue is empty, twice in a row. True when cut short. */
async function drain({
  options,
  started,
  poller,
  invokeServer,
  functions,
  sqs,
  queueUrl,
}: DrainArgs): Promise<boolean> {
  const deadline = started + (options.timeoutMs ?? 600_000);
  let quiet = 0;
  while (quiet < 2) {
    if (options.signal?.aborted || Date.now() > deadline) return true;
    await sleep(quiet === 0 ? 50 : 100);
    const busy =
      invokeServer.pendingAsyncInvocations > 0 ||
      poller.inFlight > 0 ||
      functions.worker.inFlight > 0 ||
      functions.orchestrator.inFlight > 0;
    quiet = !busy && (await queueDepth(sqs, queueUrl)).total === 0 ? quiet + 1 : 0;
  }
  return false;
}
