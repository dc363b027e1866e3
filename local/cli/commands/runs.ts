// `bounded-fanout runs --job ID`: the job's runs from the job ledger, newest first.
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import type { RunsArgs } from '../ledger-args.js';
import { type LedgerTarget, openLedgerTarget } from '../ledger-target.js';
import { formatRunList } from '../run-record-text.js';
import { UsageError } from '../usage-error.js';

/** The most runs printed: the table is for reading, the ledger keeps them all until their TTL. */
export const RUNS_SHOWN = 50;

export async function runsCommand(args: RunsArgs, io: CliIo, given?: LedgerTarget): Promise<number> {
  const target = given ?? openLedgerTarget(args, io.env);
  try {
    const records = await target.ledger.listRuns(args.job, { limit: RUNS_SHOWN });
    if (records.length === 0) {
      throw new UsageError(`No such run: job ${args.job} has no runs in ${target.where}`, { flag: '--job' });
    }
    io.stdout.write(`${args.format === 'json' ? JSON.stringify(records) : formatRunList(records)}\n`);
    return ExitCodes.OK;
  } finally {
    if (!given) target.destroy();
  }
}
