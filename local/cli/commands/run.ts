// `bounded-fanout run`: one whole job on the local runtime (or against --endpoint), with live progress, a summary
// table, and the JSON and HTML reports. Ctrl-C once stops taking new work and lets in-flight tasks finish; twice
// cuts them off. Either way the summary and the reports are written, listing every unfinished task for
// `--retry-from`. A third Ctrl-C ends the process at once with the counts so far.
import { randomBytes } from 'node:crypto';
import { validateBudget } from '../../../lib/budget/index.js';
import type { FanoutConfig } from '../../../lib/config.js';
import { checkReportPath } from '../../report/write.js';
import { type LocalJobReport, runLocalJob } from '../../run-local-job.js';
import type { RunArgs } from '../args.js';
import { Interrupts } from '../interrupts.js';
import type { CliIo } from '../io.js';
import type { JobSource } from '../job-source.js';
import type { LiveProgress } from '../live-progress.js';
import { type CliBackend, openBackend, uploadManifest } from '../local-backend.js';
import { type Progress, progressOf } from '../run-progress.js';
import { openRunSource, stateOption } from '../run-state.js';
import { readSecrets } from '../secrets-flag.js';
import { formatAbortSummary } from '../summary.js';
import { UsageError } from '../usage-error.js';
import { graceForWatchers, WATCH_WINDOW_MS } from '../watcher-grace.js';
import { finalTimeline, finishRun, reportOf } from './run-report.js';

const WAIT_ENDED =
  '[bounded-fanout] Ctrl-C: the job has ended; the endpoint closes now, waiting for no reader';

/** A local run may take long (a million tasks); Ctrl-C is the way to stop it early. */
const RUN_TIMEOUT_MS = 6 * 3600_000;

export async function runCommand(args: RunArgs, io: CliIo): Promise<number> {
  validateBudget(args.config);
  // A report that cannot be written is found now, before anything runs, not after the job.
  for (const file of args.reports) await checkReportPath(file);
  const secrets = args.secrets === undefined ? undefined : await readSecrets(args.secrets);
  const { source, state } = await openRunSource(args);
  let backend: CliBackend | undefined;
  const signals = new Interrupts();
  try {
    const base = validateBudget({
      ...args.config,
      allowHosts: [...new Set([...args.config.allowHosts, ...source.allowHosts])],
    });
    const log = verboseLog(args, io);
    announceDemo(source, io);
    backend = await openBackend({
      endpoint: args.endpoint,
      listen: args.listen,
      log,
      ...(state ? { dynamoPath: state.dynamoPath } : {}),
    });
    announceEndpoint(backend, secrets, io);
    const config = runConfigFor(base, backend, io);
    const kept = state && stateOption(state);
    const uri =
      source.uri ?? (await uploadManifest(config, backend.info, source.file ?? '', source.objectName));
    const progress = await progressOf({ config, source, io, uri, backend, args });
    const { live, display, sampler } = progress;
    const startedAt = new Date();
    // Once the job's summary is out, a Ctrl-C only ends the wait for a watcher (watcher-grace.ts).
    let waiting = false;
    const stops = { ...progress, io, source, embedded: args.endpoint === undefined, waiting: () => waiting };
    listenForStops(signals, stops);
    const local = await runSampled(uri, { args, io, config, backend, progress, signals, log, kept });
    const watchers = backend.info.edge?.dynamoReaders.end(WATCH_WINDOW_MS); // the run's record is final now
    throwIfRefused(local, source);
    const timeline = finalTimeline(sampler.samples, local);
    display.finish(timeline[timeline.length - 1]);
    const report = await reportOf({
      local,
      config,
      timeline,
      source,
      args,
      startedAt,
      signals,
      live,
      ...(state?.resumed ? { resumedFrom: state.marker.startedAt } : {}),
    });
    const code = await finishRun(io, args, report, local);
    waiting = true;
    await graceForWatchers(watchers, io, signals.stopSignal);
    return code;
  } finally {
    signals.close();
    // After a cut-off the invocations let go of still use the emulators: they end with the process instead.
    if (!signals.cutOffSignal.aborted) await backend?.stop();
    await source.close();
  }
}

/** The orchestrator refused the job (a bad header found where no check could see it first): bad input. */
function throwIfRefused(local: LocalJobReport, source: JobSource): void {
  if (local.status === 'refused') {
    throw new UsageError(`${source.label}: ${local.error ?? 'the job was refused'}`, { flag: '--manifest' });
  }
}

/** The runtime's own lines, shown with --verbose. */
function verboseLog(args: RunArgs, io: CliIo): (line: string) => void {
  return (line) => {
    if (args.verbose) io.stderr.write(`${line}\n`);
  };
}

/** The endpoint the run serves, with the secrets it answers loaded. */
function announceEndpoint(
  backend: CliBackend,
  secrets: Awaited<ReturnType<typeof readSecrets>> | undefined,
  io: CliIo,
) {
  if (backend.info.edge) io.stderr.write(`[bounded-fanout] endpoint: ${backend.info.edge.url}\n`);
  if (secrets) backend.info.edge?.secretStore.load(secrets);
}

/** The demo's size and its target server, before the run starts. */
function announceDemo(source: JobSource, io: CliIo): void {
  if (source.demo) {
    io.stderr.write(
      `Demo: ${source.demo.manifest.expected.submitted.toLocaleString('en-US')} tasks against a target server at ${source.demo.server.url} (varied latency, some 429s with Retry-After, some permanent failures, ${source.demo.manifest.expected.invalid} malformed lines).\n`,
    );
  }
}

interface JobRun {
  readonly args: RunArgs;
  readonly io: CliIo;
  readonly config: FanoutConfig;
  readonly backend: CliBackend;
  readonly progress: Progress;
  readonly signals: Interrupts;
  readonly log: (line: string) => void;
  /** `--state DIR`: the journal, and for a resume what the killed run left. */
  readonly kept: ReturnType<typeof stateOption> | undefined;
}

/** The job on the runtime, its timeline sampled from start to end. */
async function runSampled(uri: string, run: JobRun): Promise<LocalJobReport> {
  const { args, io, config, backend, progress, signals, log, kept } = run;
  const { live, sampler, follower, onProgress } = progress;
  sampler.start();
  follower?.start();
  try {
    return await runLocalJob(
      { manifest: uri },
      {
        config,
        backend: backend.info,
        onProgress,
        progressIntervalMs: 250,
        functionLogs: args.verbose ? verboseLines(io, live) : live.onLogLine,
        signal: signals.stopSignal,
        cutOff: signals.cutOffSignal,
        timeoutMs: RUN_TIMEOUT_MS,
        log,
        ledger: args.ledger,
        containers: args.containers,
        ...(kept ? { state: kept } : {}),
      },
    );
  } finally {
    sampler.stop();
    follower?.stop();
  }
}

/**
 * What each Ctrl-C says (the Interrupts decide what it does); the third prints the counts so far. After the
 * summary, while the endpoint waits for a watcher, the first only ends that wait: the display is done (on a
 * terminal a note would draw its block again below the summary) and nothing is in flight any more.
 */
function listenForStops(
  signals: Interrupts,
  {
    display,
    sampler,
    live,
    io,
    source,
    embedded,
    waiting,
  }: Progress & {
    readonly io: CliIo;
    readonly source: JobSource;
    readonly embedded: boolean;
    readonly waiting: () => boolean;
  },
): void {
  signals.listen({
    stop: () => {
      if (waiting()) io.stderr.write(`${WAIT_ENDED}\n`);
      else
        display.note('Stopping: no new work is taken; in-flight tasks finish. Ctrl-C again to cut them off.');
    },
    cutOff: () =>
      display.note(
        'Cutting off: worker invocations in flight are let go of, their tasks listed as unfinished (the orchestrator finishes its running tasks first). Ctrl-C again to exit at once, with no report.',
      ),
    abort: () => {
      const last = sampler.samples[sampler.samples.length - 1];
      const now = live.snapshot();
      display.finish();
      io.stdout.write(
        `\n${formatAbortSummary({ elapsedMs: last?.t ?? 0, done: now.done, failed: now.failed, total: source.total, embedded })}`,
      );
    },
  });
}

/**
 * Against a `bounded-fanout serve` of the same stack, the serve's own worker polls the stack's queue and would
 * take the run's messages (run with the serve's allow list, counted in no report): the run then uses resources
 * of its own, under a prefix of its own, on the same endpoint, as two stacks would share one LocalStack.
 */
function runConfigFor(config: FanoutConfig, backend: CliBackend, io: CliIo): FanoutConfig {
  if (backend.serve?.prefix !== config.prefix) return config;
  const prefix = `${config.prefix}-run-${randomBytes(3).toString('hex')}`;
  io.stderr.write(
    `[bounded-fanout] ${backend.info.endpoints.sqs} is a bounded-fanout serve of the stack "${config.prefix}": this run uses resources of its own there, prefix "${prefix}"\n`,
  );
  return { ...config, prefix };
}

/**
 * With --verbose the functions' log lines are shown too. The runtime takes JSON lines off stderr while the job
 * runs, so they are written through the stream's own write, taken before the run.
 */
function verboseLines(io: CliIo, live: LiveProgress): (line: string) => void {
  const write = io.stderr.write.bind(io.stderr);
  return (line) => {
    live.onLogLine(line);
    write(line.endsWith('\n') ? line : `${line}\n`);
  };
}

export type { JobSource };
