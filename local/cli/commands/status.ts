// `bounded-fanout status`: a run's record from the job ledger, as a short table or as JSON with the counts at
// the top level. --watch prints it again every 2 s until the run has finished, then exits with its verdict; an
// endpoint that goes away first (a local run that exited or was killed) is an outcome of its own, exit 4.
import { ErrorCodes } from '../../../lib/errors.js';
import { type RunRecord, RunStatuses } from '../../../lib/ledger/run-record.js';
import { settledCount } from '../../../lib/ledger/run-rules.js';
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import type { StatusArgs } from '../ledger-args.js';
import { latestRuns } from '../ledger-jobs.js';
import { findRun, type LedgerTarget, openLedgerTarget } from '../ledger-target.js';
import { formatRunList, formatRunStatus, statusLine } from '../run-record-text.js';
import { UsageError } from '../usage-error.js';
import { WATCH_INTERVAL_MS } from '../watcher-grace.js';

export interface StatusOptions {
  readonly target?: LedgerTarget;
  /** --watch's period. */
  readonly intervalMs?: number;
  /** Stops --watch (the command's own Ctrl-C handler aborts it too). */
  readonly signal?: AbortSignal;
}

export async function statusCommand(
  args: StatusArgs,
  io: CliIo,
  options: StatusOptions = {},
): Promise<number> {
  const target = options.target ?? openLedgerTarget(args, io.env);
  if (args.job === undefined) return await everyJob(args, io, target, !options.target);
  const print = (record: RunRecord) =>
    io.stdout.write(`${args.format === 'json' ? JSON.stringify(record) : formatRunStatus(record)}\n`);
  try {
    let record = await findRun(target, args.job, args.run);
    print(record);
    if (!args.watch) return ExitCodes.OK;
    // Watch the run first shown, not whichever run becomes the latest meanwhile.
    const runId = record.runId;
    const stop = stopOnInterrupt(options.signal);
    try {
      while (!hasEnded(record)) {
        if (!(await sleep(options.intervalMs ?? WATCH_INTERVAL_MS, stop.signal)))
          return ExitCodes.INTERRUPTED;
        const next = await readAgain(target, args.job, runId);
        if (!next) {
          io.stderr.write(`${endNotSeen(target, record)}\n`);
          return ExitCodes.END_NOT_SEEN;
        }
        record = next;
        if (args.format === 'text') io.stdout.write('\n');
        print(record);
      }
    } finally {
      stop.dispose();
    }
    return record.status === RunStatuses.SUCCEEDED ? ExitCodes.OK : ExitCodes.TASKS_FAILED;
  } finally {
    if (!options.target) target.destroy();
  }
}

/** Without --job: the latest run of each job, as `runs` prints them (with the job's id first). */
async function everyJob(args: StatusArgs, io: CliIo, target: LedgerTarget, own: boolean): Promise<number> {
  try {
    const records = await latestRuns(target);
    if (records.length === 0) throw new UsageError(`No runs in ${target.where}`, { flag: '--prefix' });
    io.stdout.write(`${args.format === 'json' ? JSON.stringify(records) : formatRunList(records, true)}\n`);
    return ExitCodes.OK;
  } finally {
    if (own) target.destroy();
  }
}

/**
 * The run again; undefined when its endpoint, which answered before, no longer does: a local `run` serves its
 * endpoint only while it runs, and one that was killed, or ended with no reader seen, takes it away.
 */
async function readAgain(target: LedgerTarget, jobId: string, runId: string): Promise<RunRecord | undefined> {
  try {
    return await findRun(target, jobId, runId);
  } catch (error) {
    if (target.endpoint && (error as { code?: unknown }).code === ErrorCodes.ENDPOINT_UNREACHABLE)
      return undefined;
    throw error;
  }
}

function endNotSeen(target: LedgerTarget, last: RunRecord): string {
  return `bounded-fanout: the endpoint ${target.endpoint} went away before run ${last.runId} of job ${last.jobId} was seen to end: last seen ${statusLine(last)}, ${settledCount(last).toLocaleString('en-US')} of ${last.submitted.toLocaleString('en-US')} tasks ended. A local \`run\` serves its endpoint only while it runs: it has exited (its own summary has the outcome) or was stopped.`;
}

/** A skipped run never started, so it may never get a finishedAt. */
function hasEnded(record: RunRecord): boolean {
  return record.finishedAt !== undefined || record.status === RunStatuses.SKIPPED;
}

/** Ctrl-C ends the watch (exit 130) instead of killing the process mid-print. */
function stopOnInterrupt(outer: AbortSignal | undefined) {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  outer?.addEventListener('abort', onSignal, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      outer?.removeEventListener('abort', onSignal);
    },
  };
}

/** False when aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
