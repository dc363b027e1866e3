// The options each command takes (node:util parseArgs specs) and the flags every command shares.
import { limitOptions } from './limit-flags.js';

export const OutputFormats = ['text', 'json'] as const;
export type OutputFormat = (typeof OutputFormats)[number];

/** The flags every command reads. */
export interface Common {
  readonly verbose: boolean;
  readonly format: OutputFormat;
}

export type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };

const commonOptions = {
  verbose: { type: 'boolean' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, OptionSpec>;

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
    containers: { type: 'string' },
    secrets: { type: 'string' },
    state: { type: 'string' },
    resume: { type: 'boolean' },
    downstream: { type: 'string' },
    ...listenOptions,
  },
  plan: {
    ...commonOptions,
    ...limitOptions,
    idempotency: { type: 'string' },
    manifest: { type: 'string' },
    tasks: { type: 'string' },
    'latency-ms': { type: 'string' },
    downstream: { type: 'string' },
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
    downstream: { type: 'string' },
    ...listenOptions,
  },
} as const satisfies Record<string, Record<string, OptionSpec>>;

export type Values = Record<string, string | boolean | string[] | undefined>;
