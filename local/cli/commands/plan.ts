// `bounded-fanout plan`: the budget table of planBudget for the config and the flags, without running anything,
// then whether the stack's reserved concurrency fits the account (local/cli/account-check.ts), when asked.
// A config that validateBudget would refuse still gets its table (it shows why), then the same error as at
// synth, and exit code 2.

import { formatBudgetTable } from '../../../lib/budget/budget-table.js';
import { BudgetError, defaultPlanOptions, planBudget } from '../../../lib/budget/index.js';
import { checkAccount, formatAccountCheck } from '../account-check.js';
import type { PlanArgs } from '../args.js';
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import { countManifest } from '../manifest-file.js';
import { UsageError } from '../usage-error.js';

export async function planCommand(args: PlanArgs, io: CliIo): Promise<number> {
  let tasks = args.tasks;
  let note = '';
  if (args.manifest !== undefined) {
    if (args.manifest.startsWith('s3://')) {
      throw new UsageError(
        'plan reads a local manifest file; download the s3:// one first, or give --tasks N',
        {
          flag: '--manifest',
          value: args.manifest,
        },
      );
    }
    const counted = await countManifest(args.manifest);
    if (counted.valid === 0) {
      throw new UsageError(`--manifest ${args.manifest}: no valid task (${counted.invalid} invalid)`, {
        flag: '--manifest',
        value: args.manifest,
      });
    }
    tasks = counted.valid;
    note = `Manifest ${args.manifest} (job ${counted.jobId}): ${counted.valid.toLocaleString('en-US')} valid tasks, ${counted.invalid.toLocaleString('en-US')} invalid.\n\n`;
  }
  const plan = planBudget(args.config, {
    tasks: tasks ?? defaultPlanOptions.tasks,
    latencyMs: args.latencyMs,
  });
  const account = await checkAccount(args.config, args.account, io.env);
  if (args.format === 'json') io.stdout.write(`${JSON.stringify({ ...plan, account }, null, 2)}\n`);
  else io.stdout.write(`${note}${formatBudgetTable(plan)}\n\n${formatAccountCheck(account)}\n`);
  if (plan.problems.length > 0) throw new BudgetError(plan.problems);
  return ExitCodes.OK;
}
