// `bounded-fanout smoke`: a few tasks against a URL the user names, through the deployed stack (or a local
// `serve`), to check a deployment end to end. It starts a run the way the schedule does (an asynchronous
// Invoke of the orchestrator with an inline manifest: no bucket to find, as the stack's bucket name is
// generated), half the tasks inline and half through the queue and the worker, then reads the run's record in
// the job ledger until it has finished. Exit 0 only when every task succeeded.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import type { RunRecord } from '../../../lib/ledger/run-record.js';
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import { type LedgerTarget, openLedgerTarget } from '../ledger-target.js';
import { formatRunStatus } from '../run-record-text.js';
import type { SmokeArgs } from '../smoke-args.js';
import { UsageError } from '../usage-error.js';

export interface SmokeOptions {
  readonly target?: LedgerTarget;
  /** How often the ledger is read while the run is live. */
  readonly pollMs?: number;
}

/** The inline manifest of a smoke run: every other task through the queue, so both functions are exercised. */
export function smokeManifest(jobId: string, url: string, tasks: number) {
  return {
    jobId,
    tasks: Array.from({ length: tasks }, (_, i) => {
      const target = new URL(url);
      target.searchParams.set('task', `smoke-${i + 1}`);
      return { id: `smoke-${i + 1}`, url: target.href, mode: i % 2 === 0 ? 'inline' : 'queue' };
    }),
  };
}

export async function smokeCommand(args: SmokeArgs, io: CliIo, options: SmokeOptions = {}): Promise<number> {
  const target = options.target ?? openLedgerTarget(args, io.env);
  const jobId = `smoke-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  try {
    io.stderr.write(`[bounded-fanout] smoke: job ${jobId}, ${args.tasks} tasks to ${args.url}\n`);
    await startRun(target, jobId, smokeManifest(jobId, args.url, args.tasks));
    const record = await waitForEnd(target, jobId, args.timeoutSeconds * 1000, options.pollMs ?? 500);
    if (!record.finishedAt) {
      io.stderr.write(
        `bounded-fanout: the smoke run ${jobId} did not finish within ${args.timeoutSeconds} s (--timeout): its record says ${record.status}\n`,
      );
      return ExitCodes.TASKS_FAILED;
    }
    const passed = record.status === 'succeeded' && record.succeeded === args.tasks;
    io.stdout.write(
      args.format === 'json'
        ? `${JSON.stringify({ passed, tasks: args.tasks, url: args.url, record })}\n`
        : `${formatRunStatus(record)}\nsmoke: ${passed ? 'passed' : 'FAILED'}: ${record.succeeded} of ${args.tasks} tasks succeeded\n`,
    );
    if (args.report) {
      await writeFile(
        args.report,
        `${JSON.stringify({ passed, tasks: args.tasks, url: args.url, record }, null, 2)}\n`,
      );
    }
    return passed ? ExitCodes.OK : ExitCodes.TASKS_FAILED;
  } finally {
    if (!options.target) target.destroy();
  }
}

/** As the schedule does: an asynchronous Invoke of the orchestrator with the job as its event. */
async function startRun(target: LedgerTarget, jobId: string, manifest: unknown): Promise<void> {
  const out = await target.lambda().send(
    new InvokeCommand({
      FunctionName: target.names.orchestrator,
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify(manifest)),
    }),
  );
  if (out.StatusCode !== 202) {
    throw new Error(
      `Could not start the smoke run ${jobId}: the orchestrator's Invoke answered ${out.StatusCode}`,
    );
  }
}

/**
 * The run's record once it has finished, or its last record at the timeout (live: the caller says so). No
 * record at all by then is an error: the orchestrator never started the run.
 */
async function waitForEnd(
  target: LedgerTarget,
  jobId: string,
  timeoutMs: number,
  pollMs: number,
): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  let record: RunRecord | undefined;
  while (Date.now() < deadline) {
    record = await target.ledger.getRun(jobId);
    if (record?.finishedAt !== undefined) return record;
    await sleep(pollMs);
  }
  if (record) return record;
  throw new UsageError(
    `The smoke run ${jobId} left no record in ${target.where} within ${timeoutMs / 1000} s: did the orchestrator ${target.names.orchestrator} start? (see its logs and its dead-letter queue)`,
    { flag: '--timeout' },
  );
}
