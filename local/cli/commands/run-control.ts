// `bounded-fanout pause|resume|cancel --job ID [--run ID]`: one conditional status change of the run (the
// job's latest without --run), made only from the statuses it makes sense from; prints what changed or why
// nothing did.
import type { StatusChange } from '../../../lib/ledger/job-ledger.js';
import { RunReasons, type RunRecord, RunStatuses } from '../../../lib/ledger/run-record.js';
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import type { StatusChangeArgs, StatusChangeCommand } from '../ledger-args.js';
import { findRun, type LedgerTarget, openLedgerTarget } from '../ledger-target.js';
import { statusLine } from '../run-record-text.js';

export const statusChanges: Record<StatusChangeCommand, StatusChange> = {
  pause: { status: RunStatuses.PAUSED, from: [RunStatuses.RUNNING] },
  resume: { status: RunStatuses.RUNNING, from: [RunStatuses.PAUSED] },
  cancel: {
    status: RunStatuses.CANCELLED,
    reason: RunReasons.CANCELLED_BY_OPERATOR,
    from: [RunStatuses.RUNNING, RunStatuses.PAUSED],
  },
};

const name = (r: RunRecord) => `run ${r.runId} of job ${r.jobId}`;

export async function runControlCommand(
  args: StatusChangeArgs,
  io: CliIo,
  given?: LedgerTarget,
): Promise<number> {
  const target = given ?? openLedgerTarget(args, io.env);
  try {
    const before = await findRun(target, args.job, args.run);
    const change = statusChanges[args.command];
    const { changed, record } = await target.ledger.setStatus(before.jobId, before.runId, change);
    const now = record ?? before;
    if (changed) {
      io.stdout.write(`${name(now)}: ${before.status} -> ${statusLine(now)}\n`);
      return ExitCodes.OK;
    }
    if (now.status === change.status) {
      io.stdout.write(`${name(now)} is already ${statusLine(now)}: nothing changed\n`);
      return ExitCodes.OK;
    }
    io.stderr.write(`bounded-fanout: ${name(now)} is ${statusLine(now)}: nothing to ${args.command}\n`);
    return ExitCodes.NOT_CHANGED;
  } finally {
    if (!given) target.destroy();
  }
}
