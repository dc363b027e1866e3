// The process exit code, as a pure function of how the command ended.
import { BUDGET_ERROR_CODE } from '../../lib/budget/budget-schema.js';
import { ErrorCodes } from '../../lib/errors.js';
import { ManifestErrorCodes } from '../../lib/manifest/errors.js';
import type { RunReport } from '../report/types.js';

export const ExitCodes = {
  /** Every task succeeded (or, for plan and redrive, the command did what it was asked). */
  OK: 0,
  /** The job ran, and some tasks were invalid or dead-lettered. Also an unexpected failure mid-run. */
  TASKS_FAILED: 1,
  /** A ledger command (pause, resume, cancel, limits) could not change the run: its status does not allow it. */
  NOT_CHANGED: 1,
  /** A redrive could not move some dead letters (they are visible in the DLQ again; the summary says why). */
  NOT_ALL_MOVED: 1,
  /** Bad usage or config: nothing ran. */
  USAGE: 2,
  /** The job ran, but a report could not be written (its error is printed; the summary still is). */
  REPORT_NOT_WRITTEN: 3,
  /**
   * `status --watch`: the endpoint went away before the run was seen to end (a local `run` that exited or was
   * killed): its outcome is not known here.
   */
  END_NOT_SEEN: 4,
  /** Ctrl-C: the run stopped before every task ended (128 + SIGINT, the shell's convention). */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

/**
 * Codes of errors that mean "fix the command line, the config or the input", raised before any task runs: our
 * own (usage, invalid argument, report file, budget, manifest) and the system's for a missing file or an
 * endpoint that cannot be reached.
 */
const usageCodes = new Set<string>([
  ErrorCodes.USAGE,
  ErrorCodes.INVALID_ARGUMENT,
  ErrorCodes.REPORT_FILE,
  BUDGET_ERROR_CODE,
  ManifestErrorCodes.INVALID_MANIFEST,
  ErrorCodes.ENDPOINT_UNREACHABLE,
  // --listen names an address that is taken or not on this machine.
  ErrorCodes.EDGE_LISTEN,
  ErrorCodes.ENDPOINT_NOT_AWS,
  'ENOENT',
  'EISDIR',
  'EACCES',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ERR_INVALID_URL',
]);

/** True for errors that exit 2. RangeErrors are bad values too (every invalid-argument error is one). */
export function isUsageError(error: unknown): boolean {
  if (error instanceof RangeError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && usageCodes.has(code)) return true;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== error && isUsageError(cause);
}

export type Outcome =
  | { readonly error: unknown }
  | {
      readonly report: Pick<RunReport, 'invalid' | 'deadLettered' | 'interrupted' | 'unfinished'> &
        Partial<Pick<RunReport, 'runtime' | 'status' | 'cancelled' | 'undeliverable'>>;
    }
  | { readonly ok: true };

export function exitCodeFor(outcome: Outcome): ExitCode {
  if ('error' in outcome) return isUsageError(outcome.error) ? ExitCodes.USAGE : ExitCodes.TASKS_FAILED;
  if ('ok' in outcome) return ExitCodes.OK;
  const { report } = outcome;
  if (report.interrupted) return ExitCodes.INTERRUPTED;
  // The job itself failed (its manifest broke after some tasks ran): never 0, whatever the counts.
  if (report.runtime?.status === 'failed' || report.status === 'failed') return ExitCodes.TASKS_FAILED;
  const notSucceeded =
    report.invalid +
    report.deadLettered +
    (report.unfinished ?? 0) +
    (report.cancelled ?? 0) +
    (report.undeliverable ?? 0);
  return notSucceeded > 0 || report.status === 'cancelled' || report.status === 'skipped'
    ? ExitCodes.TASKS_FAILED
    : ExitCodes.OK;
}
