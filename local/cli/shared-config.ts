// The config a local run is held to: the stack's own, read from cdk.json's context exactly as the CDK app reads
// it (lib/config.ts readConfig), so `bounded-fanout run` and `cdk deploy` use the same names and limits; the
// command line's limit flags then override it.
import { readFileSync } from 'node:fs';
import { defaultConfig, type FanoutConfig, reservationOf } from '../../lib/config.js';
import { fleetProcesses } from '../../lib/fleet.js';
import { readConfig } from '../../lib/read-config.js';
import { UsageError } from './usage-error.js';

export const cdkJsonUrl = new URL('../../cdk.json', import.meta.url);

export function loadSharedConfig(file: URL | string = cdkJsonUrl): FanoutConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig;
    throw error;
  }
  let context: Record<string, unknown>;
  try {
    context = (JSON.parse(text) as { context?: Record<string, unknown> }).context ?? {};
  } catch (error) {
    throw new UsageError(
      `${String(file)}: not valid JSON (${(error as Error).message})`,
      {},
      { cause: error },
    );
  }
  return readConfig((key) => context[key]);
}

/**
 * The base config with the flags applied. --worker-concurrency sets the event source's maximum concurrency; the
 * worker's reserved concurrency (the hard cap), unless --worker-reserved-concurrency sets it, is raised to what
 * the budget needs beside it, the event source's maximum plus the orchestrator's direct invokes, rather than
 * refusing the flag.
 */
export function applyOverrides(base: FanoutConfig, overrides: Partial<FanoutConfig>): FanoutConfig {
  const config: FanoutConfig = { ...base, ...overrides };
  // A reservation given by flag is the user's: validateBudget judges it, nothing raises it.
  if (overrides.workerReservedConcurrency !== undefined) return config;
  // "none" (no reservation) has nothing to raise: the event source's maximum and the invokes bound the worker.
  const workerReserved = reservationOf(config.workerReservedConcurrency);
  const { orchestrators } = fleetProcesses(config);
  if (workerReserved === undefined) return config;
  const needed = config.workerMaxConcurrency + config.invokeConcurrency * orchestrators;
  return workerReserved >= needed ? config : { ...config, workerReservedConcurrency: needed };
}
