// Parses the command line (node:util parseArgs, strict) into one typed command, validating every value and
// naming the flag and the value when one is wrong. Checks across values (the concurrency budget) come later,
// in the command, through validateBudget: the same check as at synth.
import { parseArgs } from 'node:util';
import {
  defaultConfig,
  type FanoutConfig,
  type IdempotencyMode,
  IdempotencyModes,
} from '../../lib/config.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { type ListenAddress, parseListenAddress } from '../edge-listen.js';
import { reportFormatOf } from '../report/write.js';
import { localEndpointUrl } from './endpoint-flag.js';
import {
  endpointUrl,
  hostOrCidr,
  integer,
  manifestValue,
  oneOf,
  reservation,
  stringValue,
} from './flag-values.js';
import { isLedgerCommand, type LedgerArgs, LedgerCommands, parseLedgerArgs } from './ledger-args.js';
import { applyOverrides } from './shared-config.js';
import { UsageError } from './usage-error.js';

export const Commands = {
  RUN: 'run',
  PLAN: 'plan',
  REDRIVE: 'redrive',
  SERVE: 'serve',
  HELP: 'help',
  VERSION: 'version',
  STATUS: 'status',
  RUNS: 'runs',
  PAUSE: 'pause',
  RESUME: 'resume',
  CANCEL: 'cancel',
  LIMITS: 'limits',
} as const;
export type CommandName = (typeof Commands)[keyof typeof Commands];
export const OutputFormats = ['text', 'json'] as const;
export const IdempotencyFlagValues = Object.values(IdempotencyModes);
export type OutputFormat = (typeof OutputFormats)[number];

/** The limit flags, each with the config key it sets. */
export const limitFlags = {
  'inline-concurrency': 'inlineConcurrency',
  'worker-concurrency': 'workerMaxConcurrency',
  'per-invocation-concurrency': 'perInvocationConcurrency',
  'tasks-per-message': 'tasksPerMessage',
  'max-sockets': 'maxSockets',
  'max-sockets-per-host': 'maxSocketsPerHost',
  'max-receive-count': 'maxReceiveCount',
  'batch-size': 'batchSize',
} as const satisfies Record<string, keyof FanoutConfig>;
export type LimitFlag = keyof typeof limitFlags;

/** The reserved concurrency flags: N >= 1, or "none" for no reservation (lib/config.ts ReservedConcurrency). */
export const reservedFlags = {
  'worker-reserved-concurrency': 'workerReservedConcurrency',
  'orchestrator-reserved-concurrency': 'orchestratorReservedConcurrency',
} as const satisfies Record<string, keyof FanoutConfig>;

/** Environment variable that sizes the built-in demo when --demo-tasks is not given (tests keep it small). */
export const demoTasksEnv = 'BOUNDED_FANOUT_DEMO_TASKS';

interface Common {
  readonly verbose: boolean;
  readonly format: OutputFormat;
}

export interface RunArgs extends Common {
  readonly command: 'run';
  readonly manifest?: string;
  readonly retryFrom?: string;
  readonly reports: readonly string[];
  readonly endpoint?: string;
  /** Where the runtime's one endpoint listens (undefined: 127.0.0.1:4566 when free, else a free port). */
  readonly listen?: ListenAddress;
  /** Demo size (only used without --manifest and --retry-from). */
  readonly demoTasks?: number;
  /** `--ledger off`: run without the job ledger (for measuring its cost). */
  readonly ledger: boolean;
  /** `--secrets FILE`: values the local endpoint serves for secret references (local/secret-store.ts). */
  readonly secrets?: string;
  /** The shared config with the flags applied (not yet checked as a whole). */
  readonly config: FanoutConfig;
  readonly overrides: Partial<FanoutConfig>;
}

export interface PlanArgs extends Common {
  readonly command: 'plan';
  readonly manifest?: string;
  readonly tasks?: number;
  readonly latencyMs: number;
  /** Where to read the account's Lambda concurrency (--endpoint, or --account for AWS); undefined: not asked. */
  readonly account?: { readonly endpoint?: string; readonly region?: string };
  readonly config: FanoutConfig;
  readonly overrides: Partial<FanoutConfig>;
}

export interface RedriveArgs extends Common {
  readonly command: 'redrive';
  readonly endpoint: string;
  readonly region?: string;
  readonly prefix?: string;
}

export interface ServeArgs extends Common {
  readonly command: 'serve';
  readonly listen?: ListenAddress;
  readonly secrets?: string;
  readonly config: FanoutConfig;
  readonly overrides: Partial<FanoutConfig>;
}

/** Commands with a help page of their own. */
export const HelpTopics = ['run', 'serve', 'plan', 'redrive', ...LedgerCommands] as const;
export type HelpTopic = (typeof HelpTopics)[number];
const commandList = `${HelpTopics.join(', ')}, help`;

export interface HelpArgs {
  readonly command: 'help';
  readonly topic?: HelpTopic;
}

export interface VersionArgs {
  readonly command: 'version';
}

export type ParsedArgs = RunArgs | PlanArgs | RedriveArgs | ServeArgs | HelpArgs | VersionArgs | LedgerArgs;

type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };

const commonOptions = {
  verbose: { type: 'boolean' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, OptionSpec>;

const limitOptions = Object.fromEntries(
  [...Object.keys(limitFlags), ...Object.keys(reservedFlags)].map((flag) => [flag, { type: 'string' }]),
) as Record<LimitFlag | keyof typeof reservedFlags, { type: 'string' }>;

/** Where the runtime's one endpoint listens; a host other than loopback only with --allow-remote. */
const listenOptions = {
  listen: { type: 'string' },
  'allow-remote': { type: 'boolean' },
} as const satisfies Record<string, OptionSpec>;

export const commandOptions = {
  run: {
    ...commonOptions,
    ...limitOptions,
    idempotency: { type: 'string' },
    manifest: { type: 'string' },
    'retry-from': { type: 'string' },
    report: { type: 'string', multiple: true },
    'allow-host': { type: 'string', multiple: true },
    endpoint: { type: 'string' },
    'demo-tasks': { type: 'string' },
    ledger: { type: 'string' },
    secrets: { type: 'string' },
    ...listenOptions,
  },
  plan: {
    ...commonOptions,
    ...limitOptions,
    idempotency: { type: 'string' },
    manifest: { type: 'string' },
    tasks: { type: 'string' },
    'latency-ms': { type: 'string' },
    account: { type: 'boolean' },
    endpoint: { type: 'string' },
    region: { type: 'string' },
  },
  redrive: {
    ...commonOptions,
    endpoint: { type: 'string' },
    region: { type: 'string' },
    prefix: { type: 'string' },
  },
  serve: {
    ...commonOptions,
    ...limitOptions,
    idempotency: { type: 'string' },
    'allow-host': { type: 'string', multiple: true },
    secrets: { type: 'string' },
    ...listenOptions,
  },
} as const satisfies Record<string, Record<string, OptionSpec>>;

type Values = Record<string, string | boolean | string[] | undefined>;

/** `base` is the shared config (cdk.json's context) the flags apply over. */
export function parseCliArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  base: FanoutConfig = defaultConfig,
): ParsedArgs {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError(`Missing command: expected one of ${commandList}`);
  if (first === '--help' || first === '-h' || first === 'help') return parseHelp(rest);
  if (first === '--version' || first === 'version') return { command: 'version' };
  if (isLedgerCommand(first)) {
    return parseLedgerArgs(first, rest, base, translateParseError) ?? { command: 'help', topic: first };
  }
  if (!(first in commandOptions)) {
    throw new UsageError(`Unknown command ${JSON.stringify(first)}: expected one of ${commandList}`, {
      value: first,
    });
  }
  const command = first as keyof typeof commandOptions;
  const values = parse(command, rest);
  if (values.help) return { command: 'help', topic: command };
  const common: Common = {
    verbose: values.verbose === true,
    format: oneOf('--format', values.format, OutputFormats, 'text'),
  };
  switch (command) {
    case 'run':
      return parseRun(values, common, env, base);
    case 'plan':
      return parsePlan(values, common, base);
    case 'serve':
      return parseServe(values, common, base);
    default:
      return parseRedrive(values, common);
  }
}

function parseHelp(rest: readonly string[]): HelpArgs {
  const topic = rest.find((arg) => !arg.startsWith('-'));
  if (topic === undefined) return { command: 'help' };
  if ((HelpTopics as readonly string[]).includes(topic))
    return { command: 'help', topic: topic as HelpTopic };
  throw new UsageError(
    `Unknown help topic ${JSON.stringify(topic)}: expected one of ${HelpTopics.join(', ')}`,
    {
      value: topic,
    },
  );
}

function parse(command: keyof typeof commandOptions, args: string[]): Values {
  try {
    const { values } = parseArgs({
      args,
      options: commandOptions[command],
      strict: true,
      allowPositionals: false,
    });
    return values as Values;
  } catch (error) {
    throw translateParseError(command, error as Error & { code?: string });
  }
}

/** parseArgs' messages are long and written for programmers: say the same in one line for a user. */
function translateParseError(command: string, error: Error & { code?: string }): UsageError {
  const quoted = /'([^']+)'/.exec(error.message)?.[1] ?? '';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(
        `Unknown option ${quoted} for "${command}" (see: bounded-fanout help ${command})`,
        {
          flag: quoted,
        },
      );
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /--[\w-]+/.exec(error.message)?.[0] ?? quoted;
      if (error.message.includes('argument missing'))
        return new UsageError(`${flag}: missing value`, { flag });
      if (error.message.includes('ambiguous')) {
        return new UsageError(
          `${flag}: missing value (a value starting with "-" is written ${flag}=-VALUE)`,
          { flag },
        );
      }
      return new UsageError(`${flag}: takes no value`, { flag });
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`Unexpected argument ${JSON.stringify(quoted)} for "${command}"`, {
        value: quoted,
      });
    default:
      return new UsageError(error.message, {}, { cause: error });
  }
}

function parseRun(values: Values, common: Common, env: NodeJS.ProcessEnv, base: FanoutConfig): RunArgs {
  const manifest = manifestValue(values.manifest);
  const retryFrom = stringValue('--retry-from', values['retry-from']);
  if (manifest !== undefined && retryFrom !== undefined) {
    throw new UsageError(
      "--manifest and --retry-from cannot be used together: the retry runs the report's tasks",
      {
        flag: '--retry-from',
      },
    );
  }
  const reports = ((values.report as string[] | undefined) ?? []).map((file) => {
    if (!reportFormatOf(file))
      throw UsageError.invalid('--report', file, 'a file name ending in .json or .html');
    return file;
  });
  const allowHosts = ((values['allow-host'] as string[] | undefined) ?? []).map(hostOrCidr);
  const endpoint =
    values.endpoint === undefined ? undefined : localEndpointUrl('--endpoint', values.endpoint);
  const listen = listenValue(values);
  if (endpoint !== undefined && listen !== undefined) {
    throw new UsageError(
      '--listen and --endpoint cannot be used together: against --endpoint the run serves no endpoint of its own',
      { flag: '--listen' },
    );
  }
  const secrets = stringValue('--secrets', values.secrets);
  if (secrets !== undefined && endpoint !== undefined) {
    throw new UsageError('--secrets and --endpoint cannot be used together: give --secrets to the serve', {
      flag: '--secrets',
    });
  }
  let demoTasks: number | undefined;
  if (values['demo-tasks'] !== undefined) demoTasks = integer('--demo-tasks', values['demo-tasks'], 1);
  else if (env[demoTasksEnv]) demoTasks = integer(demoTasksEnv, env[demoTasksEnv], 1);
  const overrides = { ...limitOverrides(values), ...(allowHosts.length ? { allowHosts } : {}) };
  return {
    command: 'run',
    ...common,
    manifest,
    retryFrom,
    reports,
    endpoint,
    listen,
    demoTasks,
    ledger: oneOf('--ledger', values.ledger, ['on', 'off'] as const, 'on') === 'on',
    secrets,
    overrides,
    config: applyOverrides(base, overrides),
  };
}

function parseServe(values: Values, common: Common, base: FanoutConfig): ServeArgs {
  const allowHosts = ((values['allow-host'] as string[] | undefined) ?? []).map(hostOrCidr);
  const overrides = { ...limitOverrides(values), ...(allowHosts.length ? { allowHosts } : {}) };
  return {
    command: 'serve',
    ...common,
    listen: listenValue(values),
    secrets: stringValue('--secrets', values.secrets),
    overrides,
    config: applyOverrides(base, overrides),
  };
}

/** --listen HOST:PORT, loopback unless --allow-remote; --allow-remote alone says nothing. */
function listenValue(values: Values): ListenAddress | undefined {
  const allowRemote = values['allow-remote'] === true;
  if (values.listen === undefined) {
    if (allowRemote)
      throw new UsageError('--allow-remote needs --listen HOST:PORT', { flag: '--allow-remote' });
    return undefined;
  }
  const raw = stringValue('--listen', values.listen) ?? '';
  try {
    return parseListenAddress(raw, { allowNonLoopback: allowRemote });
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    const loopbackOnly = !allowRemote && error.message.includes('loopback');
    throw UsageError.invalid(
      '--listen',
      raw,
      loopbackOnly
        ? 'a loopback address (127.0.0.1, [::1], localhost): the endpoint has no authentication, so anyone who reaches it could read the queues and invoke the functions; add --allow-remote to listen there anyway'
        : 'HOST:PORT with an IP address or localhost, e.g. 127.0.0.1:4566',
    );
  }
}

function parsePlan(values: Values, common: Common, base: FanoutConfig): PlanArgs {
  const overrides = limitOverrides(values);
  const tasks = values.tasks === undefined ? undefined : integer('--tasks', values.tasks, 1);
  const manifest = manifestValue(values.manifest);
  if (tasks !== undefined && manifest !== undefined) {
    throw new UsageError('--tasks and --manifest cannot be used together: the manifest gives the count', {
      flag: '--tasks',
    });
  }
  const endpoint = values.endpoint === undefined ? undefined : endpointUrl(values.endpoint);
  const region = stringValue('--region', values.region);
  const asked = values.account === true || endpoint !== undefined;
  return {
    command: 'plan',
    ...common,
    manifest,
    tasks,
    ...(asked ? { account: { endpoint, region } } : {}),
    latencyMs: values['latency-ms'] === undefined ? 100 : integer('--latency-ms', values['latency-ms'], 1),
    overrides,
    config: applyOverrides(base, overrides),
  };
}

function parseRedrive(values: Values, common: Common): RedriveArgs {
  if (values.endpoint === undefined) {
    throw new UsageError('redrive needs --endpoint URL (the SQS endpoint holding the dead-letter queue)', {
      flag: '--endpoint',
    });
  }
  const prefix = stringValue('--prefix', values.prefix);
  if (prefix !== undefined && !/^[A-Za-z0-9_-]{1,60}$/.test(prefix)) {
    throw UsageError.invalid('--prefix', prefix, 'letters, digits, "-" or "_" (at most 60)');
  }
  const region = stringValue('--region', values.region);
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw UsageError.invalid('--region', region, 'an AWS region such as us-east-1');
  }
  return { command: 'redrive', ...common, endpoint: endpointUrl(values.endpoint), region, prefix };
}

/** Applies the limit flags over the shared config. */
export function limitOverrides(values: Values): Partial<FanoutConfig> {
  const overrides: Record<string, number | string> = {};
  for (const [flag, key] of Object.entries(limitFlags)) {
    const raw = values[flag];
    if (raw === undefined) continue;
    overrides[key] = integer(`--${flag}`, raw, 1);
  }
  for (const [flag, key] of Object.entries(reservedFlags)) {
    const raw = values[flag];
    if (raw !== undefined) overrides[key] = reservation(`--${flag}`, raw);
  }
  const result = overrides as Partial<FanoutConfig> & { idempotency?: IdempotencyMode };
  if (values.idempotency !== undefined) {
    result.idempotency = oneOf(
      '--idempotency',
      values.idempotency,
      IdempotencyFlagValues,
      IdempotencyModes.TASK,
    );
  }
  return result;
}

export { hostOrCidr, integer } from './flag-values.js';
