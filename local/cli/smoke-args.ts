// The smoke command's flags: the URL its tasks call, how many, where the stack is (as for the ledger
// commands: --endpoint on this machine, or AWS with --prefix and --region), how long to wait, and the report.
import { parseArgs } from 'node:util';
import type { FanoutConfig } from '../../lib/config.js';
import { integer, stringValue } from './flag-values.js';
import { type LedgerTargetArgs, targetOf } from './ledger-args.js';
import { UsageError } from './usage-error.js';

export interface SmokeArgs extends LedgerTargetArgs {
  readonly command: 'smoke';
  /** http(s) URL every task calls (GET); each task's id is appended as `?task=ID`. */
  readonly url: string;
  readonly tasks: number;
  /** Seconds to wait for the run to finish. */
  readonly timeoutSeconds: number;
  /** Write the run's record and the verdict here (JSON). */
  readonly report?: string;
}

export const SMOKE_DEFAULT_TASKS = 5;
export const SMOKE_MAX_TASKS = 100;
export const SMOKE_DEFAULT_TIMEOUT_SECONDS = 300;

const smokeOptions = {
  url: { type: 'string' },
  tasks: { type: 'string' },
  timeout: { type: 'string' },
  report: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  prefix: { type: 'string' },
  format: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** undefined when --help was asked. */
export function parseSmokeArgs(
  args: string[],
  base: FanoutConfig,
  translate: (command: string, error: Error & { code?: string }) => UsageError,
): SmokeArgs | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options: smokeOptions, strict: true, allowPositionals: false }));
  } catch (error) {
    throw translate('smoke', error as Error & { code?: string });
  }
  if (values.help) return undefined;
  const report = stringValue('--report', values.report);
  if (report !== undefined && !report.endsWith('.json')) {
    throw UsageError.invalid('--report', report, 'a file name ending in .json');
  }
  return {
    command: 'smoke',
    ...targetOf(values, base),
    url: urlValue(values.url),
    tasks: tasksValue(values.tasks),
    timeoutSeconds:
      values.timeout === undefined ? SMOKE_DEFAULT_TIMEOUT_SECONDS : integer('--timeout', values.timeout, 1),
    report,
  };
}

function urlValue(raw: unknown): string {
  if (raw === undefined) {
    throw new UsageError('smoke needs --url URL (the http or https address its tasks call)', {
      flag: '--url',
    });
  }
  const text = stringValue('--url', raw) ?? '';
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw UsageError.invalid('--url', text, 'an http or https URL, e.g. https://api.example.com/health');
  }
  return url.href;
}

function tasksValue(raw: unknown): number {
  if (raw === undefined) return SMOKE_DEFAULT_TASKS;
  const tasks = integer('--tasks', raw, 1);
  if (tasks > SMOKE_MAX_TASKS) {
    throw UsageError.invalid(
      '--tasks',
      raw,
      `an integer from 1 to ${SMOKE_MAX_TASKS}: a smoke test, not a load test`,
    );
  }
  return tasks;
}
