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
import { type FanoutConfig, functionConfig, resourceNames, withDefaults } from '../lib/config.js';
import { assertInteger } from '../lib/errors.js';
import { Semaphore } from '../lib/semaphore.js';
import { asyncDeadLetters } from './async-dead-letters.js';
import { stackFailureDestinations } from './async-destinations.js';
import { type BackendInfo, startBackend } from './backend.js';
import { readDeadLetters } from './dead-letters.js';
import { FunctionLogs } from './function-logs.js';
import { HttpObserver } from './http-observer.js';
import { InvokeServer } from './invoke-server.js';
import { drain } from './job-drain.js';
import { jobEnvironment, withEnvironment } from './job-environment.js';
import { buildReport, type LocalJobReport } from './job-report.js';
import { startSampler } from './job-sampler.js';
import { mappedSource } from './lambda-control.js';
import { buildFunctions, eventSourceOf } from './local-functions.js';
import { orchestratorOutcome } from './orchestrator-outcome.js';
import { EventSourcePoller } from './poller.js';
import { QueueBacklog } from './queue-backlog.js';
import { ResendGuard } from './resend-guard.js';
import { createResources, sqsClient } from './resources.js';
import type { RunLocalJobOptions } from './run-local-job-options.js';
import { readRunRecord } from './run-record.js';
import { putBack } from './run-resume.js';
import { cutOffWhen, listen, manifestTail } from './run-stop.js';
import { scheduledInvocation } from './scheduled-invocation.js';
import { withRereads } from './segment-reread.js';
import { type SendInput, type SendOutput, TaskLedger } from './task-ledger.js';

export type { LocalJobReport } from './job-report.js';
export type { LocalProgress } from './job-sampler.js';
export type { RunLocalJobFaults, RunLocalJobOptions } from './run-local-job-options.js';

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
    const run = await startMachinery(
      { options, started, config, names, maxQueuedTasks, backend, logs },
      cleanups,
    );
    const resume = options.state?.resume;
    // A resume puts the killed run's open messages back before any poller receives.
    const { queueUrl, idempotencyTable, jobTable } = run.resources;
    const resumed = resume && (await putBack({ ...run, queueUrl, idempotencyTable, jobTable }, resume.open));
    const driven = startDriving(run, cleanups, resumed ? resumed.laterReceives : new Set());
    const report = await runAndReport(run, driven, jobEvent);
    if (!resumed) return report;
    // Segments run again: their inline tasks ran again, those the killed process ran among them.
    const counts = await withRereads(
      { backend, resources: run.resources, config },
      report,
      resume,
      resumed.counts,
    );
    return { ...report, resumed: counts };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    // The invocations let go of by a cut-off still use the emulators (dynalite throws on a closed database):
    // a backend of the run's own is then left to end with the process.
    if (!options.cutOff?.aborted) await owned?.stop();
  }
}

interface RunSetup {
  readonly options: RunLocalJobOptions;
  readonly started: number;
  readonly config: FanoutConfig;
  readonly names: ReturnType<typeof resourceNames>;
  readonly maxQueuedTasks: number;
  readonly backend: BackendInfo;
  readonly logs: FunctionLogs;
}

type Machinery = Awaited<ReturnType<typeof startMachinery>>;

/**
 * The stack on this machine for the run: its resources, the functions behind the Invoke endpoint and the
 * environment they read. Each part adds its cleanup to `cleanups`.
 */
async function startMachinery(setup: RunSetup, cleanups: (() => unknown)[]) {
  const { options, config, names, maxQueuedTasks, backend, logs } = setup;
  const resources = await createResources(config, backend);
  const sqs = sqsClient(backend);
  cleanups.push(() => sqs.destroy());
  // A resume that runs the killed first segment again drops the sends of it the killed process made.
  const resume = options.state?.resume;
  const rereads = resume && (!resume.first || resume.unended.length > 0);
  const guard = rereads ? new ResendGuard(resources.queueUrl, resume.keys) : undefined;
  const backlog = new QueueBacklog({
    sqs,
    queueUrl: resources.queueUrl,
    signal: options.signal,
    maxMessages: Math.ceil(maxQueuedTasks / config.tasksPerMessage),
  });
  const observer = new HttpObserver();
  const ledger = new TaskLedger(resources.queueUrl, options.state?.journal);
  const functions = buildFunctions(config, options, backlog, observer, ledger, guard);
  const stopping = () => options.signal?.aborted === true;
  const cut = cutOffWhen(options.cutOff);
  const invokeServer = new InvokeServer({
    functions: [functions.orchestrator, functions.worker],
    asyncDeliveries: options.faults?.asyncDeliveries ?? 1,
    // Once stopping, the orchestrator's continuation is kept: the rest of the manifest is listed, not enqueued.
    holdAsync: (name) => name === names.orchestrator && stopping(),
    deadLetters: asyncDeadLetters(sqs, { [names.orchestrator]: resources.orchestratorDeadLetterQueueUrl }),
    onFailure: stackFailureDestinations(names),
    // A continuation's outcome is journaled as it ends: a resume needs to know whether the manifest was read.
    onAsyncRecord: (record) => {
      if (record.functionName === names.orchestrator) options.state?.journal.continuation(record);
    },
    // And as it is accepted: a resume runs again one that never ended (local/segment-reread.ts).
    onAsyncAccepted: (name, payload, requestId) => {
      if (name === names.orchestrator) options.state?.journal.accepted(requestId, payload);
    },
  });
  const lambdaEndpoint = await invokeServer.listen();
  cleanups.push(() => invokeServer.close());
  attachEdge(backend, config, ledger, lambdaEndpoint, cleanups);
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
  return { ...setup, resources, sqs, observer, ledger, functions, cut, invokeServer };
}

/** The one local endpoint, while the run lasts: this run's Invoke endpoint as Lambda, its config, its redrives. */
function attachEdge(
  backend: BackendInfo,
  config: FanoutConfig,
  ledger: TaskLedger,
  lambdaEndpoint: string,
  cleanups: (() => unknown)[],
): void {
  const edge = backend.edge;
  if (!edge) return;
  edge.setUpstream('lambda', lambdaEndpoint);
  cleanups.push(() => edge.setUpstream('lambda', undefined));
  // As a serve says it: `limits` from a second terminal checks values against this run's config.
  edge.setInfo(() => ({ prefix: config.prefix, config: functionConfig(config) }));
  cleanups.push(() => edge.setInfo(() => ({})));
  // A `redrive` run from another process through the run's endpoint sends the run's messages too.
  edge.onRedriveSend((input, output) => ledger.recordRedriveSend(input as SendInput, output as SendOutput));
  cleanups.push(() => edge.onRedriveSend(undefined));
}

/**
 * The event-source poller driving the worker, the stop and cut-off listeners, and the progress sampler.
 * `laterReceives`: a resume's put-back messages the killed run's worker had received and settled.
 */
function startDriving(run: Machinery, cleanups: (() => unknown)[], laterReceives: ReadonlySet<string>) {
  const { options, started, config, resources, sqs, functions, backend, ledger, logs } = run;
  const source = eventSourceOf(config, resources, sqs, functions.worker, backend.region);
  const poller = new EventSourcePoller({
    ...source,
    loseDelete: options.faults?.loseDelete,
    onReceive: options.onReceive,
    onSettled: (ids) => ledger.settled(ids),
    receivesBefore: (id) => (laterReceives.has(id) ? 1 : 0),
  }).start();
  cleanups.push(() => poller.stop());
  run.invokeServer.addEventSource(mappedSource(poller, source));
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

  const sampler = startSampler(
    options,
    started,
    functions,
    sqs,
    resources.queueUrl,
    () => poller.maxConcurrency,
  );
  cleanups.push(() => sampler.stop());
  return { poller, sampler };
}

/** Invokes the orchestrator as the schedule would, waits for the work to drain and builds the report. */
async function runAndReport(
  machinery: Machinery,
  { poller, sampler }: ReturnType<typeof startDriving>,
  jobEvent: unknown,
): Promise<LocalJobReport> {
  const { options, started, config, names, backend, resources, sqs, observer, ledger, functions } = machinery;
  const { cut, invokeServer, logs } = machinery;
  const orchestrator = { fn: functions.orchestrator, name: names.orchestrator, invokeServer };
  const first = await scheduledInvocation({ state: options.state, ...orchestrator }, jobEvent);
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

  const asyncRecords = [...(options.state?.resume?.continuations ?? []), ...invokeServer.asyncInvocations];
  const outcome = orchestratorOutcome(first, asyncRecords, names.orchestrator);
  const deadLetters = await readDeadLetters(sqs, resources.deadLetterQueueUrl, outcome);
  const tail = await manifestTail(backend, invokeServer, names.orchestrator);
  const run = options.ledger === false ? undefined : await readRunRecord(backend, resources, config, outcome);
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
    workerSettings: { workers: poller.maxConcurrency, workerReserved: reservationNow(functions.worker) },
    sockets: { total: sampler.peakSockets, perContainer: functions.sockets().perContainer },
    resources,
    latency: observer.latency(),
    ledger,
    tail,
    cutOff: cut.done,
  });
}

/** The worker's reservation now: undefined when it has none (Infinity), as the config says "none". */
const reservationNow = ({ reservedConcurrency }: { reservedConcurrency: number }) =>
  Number.isFinite(reservedConcurrency) ? reservedConcurrency : undefined;
