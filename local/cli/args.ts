// Parses the command line (node:util parseArgs, strict) into one typed command, validating every value and
// naming the flag and the value when one is wrong. Checks across values (the concurrency budget) come later,
// in the command, through validateBudget: the same check as at synth.
import { parseArgs } from 'node:util';
import { defaultConfig, type FanoutConfig } from '../../lib/config.js';
import { type Common, commandOptions, OutputFormats, type Values } from './command-options.js';
import { oneOf } from './flag-values.js';
import { isLedgerCommand, type LedgerArgs, LedgerCommands, parseLedgerArgs } from './ledger-args.js';
import { translateParseError } from './parse-error.js';
import { type PlanArgs, parsePlan } from './plan-args.js';
import { parseRedrive, type RedriveArgs } from './redrive-args.js';
import { runFlags } from './resume-flags.js';
import { parseRun, parseServe, type RunArgs, type ServeArgs } from './run-args.js';
import { parseSmokeArgs, type SmokeArgs } from './smoke-args.js';
import { UsageError } from './usage-error.js';

export type { PlanArgs } from './plan-args.js';
export type { RedriveArgs } from './redrive-args.js';
export { containersEnv, demoTasksEnv, type RunArgs, type ServeArgs } from './run-args.js';
export type { SmokeArgs } from './smoke-args.js';

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
  SMOKE: 'smoke',
} as const;
export type CommandName = (typeof Commands)[keyof typeof Commands];

/** Commands with a help page of their own. */
export const HelpTopics = ['run', 'serve', 'plan', 'redrive', 'smoke', ...LedgerCommands] as const;
export type HelpTopic = (typeof HelpTopics)[number];
const commandList = `${HelpTopics.join(', ')}, help`;

export interface HelpArgs {
  readonly command: 'help';
  readonly topic?: HelpTopic;
}

export interface VersionArgs {
  readonly command: 'version';
}

export type ParsedArgs =
  | RunArgs
  | PlanArgs
  | RedriveArgs
  | ServeArgs
  | SmokeArgs
  | HelpArgs
  | VersionArgs
  | LedgerArgs;

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
  if (first === 'smoke')
    return parseSmokeArgs(rest, base, translateParseError) ?? { command: 'help', topic: first };
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
      return { ...parseRun(values, common, env, base), runFlags: runFlags(rest) };
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

export { hostOrCidr, integer } from './flag-values.js';
