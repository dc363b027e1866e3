// The command line of the commands that read and steer a run through the job ledger: status, runs, pause,
// resume, cancel and limits. Each names where the ledger is (--endpoint, --region, --prefix) and which run
// (--job, --run); values are checked here, the limits' KEY=VALUE pairs later against the deployed config
// (lib/ledger/run-limits.ts).
import { parseArgs } from 'node:util';
import type { FanoutConfig } from '../../lib/config.js';
import { JobIdSchema } from '../../lib/manifest/schema.js';
import { endpointUrl, oneOf, stringValue } from './flag-values.js';
import { isLoopbackEndpoint } from './sqs-endpoint.js';
import { UsageError } from './usage-error.js';

export const LedgerCommands = ['status', 'runs', 'pause', 'resume', 'cancel', 'limits', 'report'] as const;
export type LedgerCommand = (typeof LedgerCommands)[number];
export type StatusChangeCommand = 'pause' | 'resume' | 'cancel';

/** Where the job ledger is: an endpoint on this machine (local runtime or LocalStack), or AWS. */
export interface LedgerTargetArgs {
  /** Loopback only; undefined: AWS, with the SDK's default credentials and region. */
  readonly endpoint?: string;
  readonly region?: string;
  /** The stack's resource prefix: the job table and the worker are named from it. */
  readonly prefix: string;
  /** Days a finished run's record is kept (the shared config's resultsRetentionDays, as the functions use). */
  readonly retentionDays: number;
  readonly verbose: boolean;
  readonly format: 'text' | 'json';
}

export interface StatusArgs extends LedgerTargetArgs {
  readonly command: 'status';
  readonly job?: string;
  readonly run?: string;
  readonly watch: boolean;
}

export interface RunsArgs extends LedgerTargetArgs {
  readonly command: 'runs';
  readonly job: string;
}

export interface StatusChangeArgs extends LedgerTargetArgs {
  readonly command: StatusChangeCommand;
  readonly job: string;
  /** Undefined: the job's latest run. */
  readonly run?: string;
}

export interface LimitsArgs extends LedgerTargetArgs {
  readonly command: 'limits';
  readonly job?: string;
  readonly run?: string;
  /** KEY=VALUE, as given. */
  readonly pairs: readonly string[];
  /** The deployed config (cdk.json's) the values are checked against. */
  readonly config: FanoutConfig;
}

export interface ReportArgs extends LedgerTargetArgs {
  readonly command: 'report';
  readonly job: string;
  readonly run?: string;
  /** FILE.json and/or FILE.html, each checked for its extension. */
  readonly reports: readonly string[];
  /** The deployed config: the limits the report shows, and where result objects are (resultsPrefix). */
  readonly config: FanoutConfig;
}

export type LedgerArgs = StatusArgs | RunsArgs | StatusChangeArgs | LimitsArgs | ReportArgs;

const targetOptions = {
  endpoint: { type: 'string' },
  region: { type: 'string' },
  prefix: { type: 'string' },
  job: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const ledgerCommandOptions = {
  status: {
    ...targetOptions,
    run: { type: 'string' },
    watch: { type: 'boolean' },
    format: { type: 'string' },
  },
  runs: { ...targetOptions, format: { type: 'string' } },
  pause: { ...targetOptions, run: { type: 'string' } },
  resume: { ...targetOptions, run: { type: 'string' } },
  cancel: { ...targetOptions, run: { type: 'string' } },
  limits: { ...targetOptions, run: { type: 'string' } },
  report: { ...targetOptions, run: { type: 'string' }, report: { type: 'string', multiple: true } },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

export function isLedgerCommand(name: string): name is LedgerCommand {
  return (LedgerCommands as readonly string[]).includes(name);
}

/**
 * Parses one ledger command's arguments; `undefined` when --help was asked. `translate` turns parseArgs'
 * own errors into one-line usage errors (args.ts).
 */
export function parseLedgerArgs(
  command: LedgerCommand,
  args: string[],
  base: FanoutConfig,
  translate: (command: string, error: Error & { code?: string }) => UsageError,
): LedgerArgs | undefined {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: ledgerCommandOptions[command],
      strict: true,
      allowPositionals: command === 'limits',
    }) as { values: Values; positionals: string[] });
  } catch (error) {
    throw translate(command, error as Error & { code?: string });
  }
  if (values.help) return undefined;
  const target = targetOf(values, base);
  const job = idValue('--job', values.job);
  const run = idValue('--run', values.run);
  if (run !== undefined && job === undefined) throw new UsageError('--run needs --job ID', { flag: '--run' });
  switch (command) {
    case 'status':
      if (values.watch === true && job === undefined) {
        throw new UsageError('status --watch needs --job ID', { flag: '--watch' });
      }
      return { command, ...target, job, run, watch: values.watch === true };
    case 'runs':
      return { command, ...target, job: required(command, job) };
    case 'limits':
      if (positionals.length === 0) {
        throw new UsageError('limits needs at least one KEY=VALUE (see: bounded-fanout help limits)', {});
      }
      return { command, ...target, job, run, pairs: positionals, config: base };
    case 'report':
      return {
        command,
        ...target,
        job: required(command, job),
        run,
        reports: reportFiles(values.report),
        config: base,
      };
    default:
      return { command, ...target, job: required(command, job), run };
  }
}

export function targetOf(values: Values, base: FanoutConfig): LedgerTargetArgs {
  const endpoint = values.endpoint === undefined ? undefined : loopbackEndpoint(values.endpoint);
  const prefix = stringValue('--prefix', values.prefix) ?? base.prefix;
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(prefix)) {
    throw UsageError.invalid('--prefix', prefix, '1-40 lowercase letters, digits or hyphens');
  }
  const region = stringValue('--region', values.region);
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw UsageError.invalid('--region', region, 'an AWS region such as us-east-1');
  }
  return {
    endpoint,
    region,
    prefix,
    retentionDays: base.resultsRetentionDays,
    verbose: values.verbose === true,
    format: oneOf('--format', values.format, ['text', 'json'] as const, 'text'),
  };
}

/** The network rule: these commands only ever talk to an endpoint on this machine, or to AWS itself. */
function loopbackEndpoint(raw: unknown): string {
  const endpoint = endpointUrl(raw);
  if (!isLoopbackEndpoint(endpoint)) {
    throw UsageError.invalid('--endpoint', raw, 'a URL on this machine (127.0.0.1, [::1] or localhost)');
  }
  return endpoint;
}

// No ":": it separates the job id, run id and task id in keys (lib/manifest/schema.ts JobIdSchema).
const ID_EXPECTED =
  'an id of letters, digits, ".", "_" or "-" (at most 128; no ":", which separates ids in keys)';

function idValue(flag: '--job' | '--run', raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (JobIdSchema.safeParse(raw).success) return raw as string;
  throw UsageError.invalid(flag, raw, ID_EXPECTED);
}

function reportFiles(raw: Values[string]): string[] {
  const files = Array.isArray(raw) ? raw : [];
  if (files.length === 0)
    throw new UsageError('report needs --report FILE.json or FILE.html', { flag: '--report' });
  for (const file of files) {
    if (!/\.(json|html?)$/i.test(file))
      throw UsageError.invalid('--report', file, 'a file name ending in .json or .html');
  }
  return files;
}

function required(command: LedgerCommand, job: string | undefined): string {
  if (job === undefined) throw new UsageError(`${command} needs --job ID`, { flag: '--job' });
  return job;
}
