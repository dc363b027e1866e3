// The limit flags shared by run, plan and serve: each sets one key of the shared config, checked as a value
// here and as a whole (the concurrency budget) later, in the command.
import { type FanoutConfig, type IdempotencyMode, IdempotencyModes } from '../../lib/config.js';
import type { Values } from './command-options.js';
import { integer, oneOf, reservation } from './flag-values.js';

export const IdempotencyFlagValues = Object.values(IdempotencyModes);

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

/** The parseArgs spec of every limit flag (all take a string value, checked by limitOverrides). */
export const limitOptions = Object.fromEntries(
  [...Object.keys(limitFlags), ...Object.keys(reservedFlags)].map((flag) => [flag, { type: 'string' }]),
) as Record<LimitFlag | keyof typeof reservedFlags, { type: 'string' }>;

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
