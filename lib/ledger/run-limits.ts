// The `KEY=VALUE` overrides of `bounded-fanout limits`, parsed and checked against the deployed config. An
// override only lowers what the budget proved at synth (validateBudget), never raises it, so the proven worst
// case stays true while a run is slowed, and a host's maxConcurrency stays one the fleet can keep to (the
// budget's own rule); anything else is refused with the budget's own error, every problem at once. Two keys are not the run's but the worker's Lambda settings, returned apart for the caller to apply.

import { hostShareProblem } from '../budget/budget-rules.js';
import { BudgetError, type BudgetProblem, problem } from '../budget/budget-schema.js';
import { type FanoutConfig, reservationOf } from '../config.js';
import { fleetProcesses } from '../fleet.js';
import type { RunLimits } from './run-record.js';

/** The worker's Lambda settings `limits` can also lower (not part of the run record). */
export interface WorkerSettings {
  /** The SQS event source's MaximumConcurrency (UpdateEventSourceMapping), 2..workerMaxConcurrency. */
  readonly eventSourceMaxConcurrency?: number;
  /** The worker's reserved concurrency (PutFunctionConcurrency). */
  readonly workerReservedConcurrency?: number;
}

export interface LimitRequest {
  /** Only the keys given: merge over the record's own with mergeRunLimits. */
  readonly limits: RunLimits;
  readonly worker: WorkerSettings;
}

const RUN_KEYS = ['perInvocationConcurrency', 'inlineConcurrency'] as const;
const HOST_KEYS = ['maxConcurrency', 'maxRequestsPerSecond'] as const;
const WORKER_KEYS = ['eventSourceMaxConcurrency', 'workerReservedConcurrency'] as const;
type HostKey = (typeof HOST_KEYS)[number];

/** Every key `limits` takes, as help and errors list them. */
export const LIMIT_KEYS = [
  ...RUN_KEYS,
  'downstream.<host>.maxConcurrency',
  'downstream.<host>.maxRequestsPerSecond',
  ...WORKER_KEYS,
] as const;

const LOWER_ONLY = 'an override only lowers what the budget proved at synth';

type Key =
  | { readonly kind: 'run'; readonly name: (typeof RUN_KEYS)[number] }
  | { readonly kind: 'host'; readonly host: string; readonly name: HostKey }
  | { readonly kind: 'worker'; readonly name: (typeof WORKER_KEYS)[number] };

interface Pair {
  readonly text: string;
  readonly key: Key;
  readonly raw: string;
}

/**
 * Parses `pairs` and checks each value against `config` (the deployed one). Throws one BudgetError naming
 * every refused key and value; returns the run's overrides and the worker's settings apart.
 */
export function parseRunLimits(pairs: readonly string[], config: FanoutConfig): LimitRequest {
  const problems: BudgetProblem[] = [];
  const parsed = splitPairs(pairs, config, problems);
  const values = new Map<string, number>();
  for (const pair of parsed) {
    const value = numberOf(pair, problems);
    if (value === undefined) continue;
    const bound = boundProblem(pair, value, config);
    if (bound) problems.push(bound);
    else values.set(pair.text, value);
  }
  const worker = workerSettings(parsed, values, config, problems);
  if (problems.length > 0) throw new BudgetError(problems);
  return { limits: runLimits(parsed, values), worker };
}

/** The record's overrides with `update`'s over them, host by host. */
export function mergeRunLimits(current: RunLimits | undefined, update: RunLimits): RunLimits {
  const downstream: Record<string, { maxConcurrency?: number; maxRequestsPerSecond?: number }> = {};
  for (const source of [current?.downstream ?? {}, update.downstream ?? {}]) {
    for (const [host, limits] of Object.entries(source))
      downstream[host] = { ...downstream[host], ...limits };
  }
  const merged: RunLimits = { ...current, ...update };
  return Object.keys(downstream).length > 0 ? { ...merged, downstream } : merged;
}

function splitPairs(pairs: readonly string[], config: FanoutConfig, problems: BudgetProblem[]): Pair[] {
  const seen = new Set<string>();
  const out: Pair[] = [];
  for (const text of pairs) {
    const at = text.indexOf('=');
    if (at <= 0) {
      problems.push(problem('limits', text, 'is not KEY=VALUE'));
      continue;
    }
    const name = text.slice(0, at).trim();
    const raw = text.slice(at + 1).trim();
    const key = keyOf(name);
    if (!key) {
      problems.push(problem(name, raw, `is not a limit: the keys are ${LIMIT_KEYS.join(', ')}`));
    } else if (key.kind === 'host' && !Object.hasOwn(config.downstream, key.host)) {
      // Own keys only: `in` finds __proto__, constructor and toString on every object, each then bounded by nothing.
      const declared = Object.keys(config.downstream);
      const list = declared.length > 0 ? `declared: ${declared.join(', ')}` : 'none declared';
      problems.push(problem(name, raw, `names host "${key.host}", not in the config's downstream (${list})`));
    } else if (seen.has(name)) {
      problems.push(problem(name, raw, 'is given twice'));
    } else {
      seen.add(name);
      out.push({ text: name, key, raw });
    }
  }
  return out;
}

function keyOf(name: string): Key | undefined {
  for (const run of RUN_KEYS) if (name === run) return { kind: 'run', name: run };
  for (const worker of WORKER_KEYS) if (name === worker) return { kind: 'worker', name: worker };
  const host = /^downstream\.(.+)\.(maxConcurrency|maxRequestsPerSecond)$/.exec(name);
  return host ? { kind: 'host', host: host[1]!, name: host[2] as HostKey } : undefined;
}

/** Whole numbers >= 1 everywhere but a rate, which is any positive number. */
function numberOf(pair: Pair, problems: BudgetProblem[]): number | undefined {
  const isRate = pair.key.kind === 'host' && pair.key.name === 'maxRequestsPerSecond';
  if (isRate) {
    const value = /^\d+(\.\d+)?$/.test(pair.raw) ? Number(pair.raw) : Number.NaN;
    if (Number.isFinite(value) && value > 0) return value;
    problems.push(problem(pair.text, pair.raw, 'is not a number above 0'));
    return undefined;
  }
  const value = /^\d+$/.test(pair.raw) ? Number(pair.raw) : Number.NaN;
  if (Number.isSafeInteger(value) && value >= 1) return value;
  problems.push(problem(pair.text, pair.raw, 'is not a whole number >= 1'));
  return undefined;
}

/** The deployed value a key may not exceed (undefined: none declared, so any value only lowers). */
function deployedValue(key: Key, config: FanoutConfig): { value?: number; name: string } {
  switch (key.kind) {
    case 'run':
      return { value: config[key.name], name: key.name };
    case 'host':
      return {
        value: config.downstream[key.host]?.[key.name],
        name: `downstream["${key.host}"].${key.name}`,
      };
    default:
      return key.name === 'eventSourceMaxConcurrency'
        ? { value: config.workerMaxConcurrency, name: 'workerMaxConcurrency' }
        : { value: reservationOf(config.workerReservedConcurrency), name: 'workerReservedConcurrency' };
  }
}

function boundProblem(pair: Pair, value: number, config: FanoutConfig): BudgetProblem | undefined {
  if (pair.key.kind === 'worker' && pair.key.name === 'eventSourceMaxConcurrency' && value < 2) {
    return problem(pair.text, value, 'is below 2 (the SQS event source takes 2..1000)');
  }
  const { key } = pair;
  // Below the process count a host's share rounds up to 1 a process: the fleet would go over it (unless leased).
  if (key.kind === 'host' && key.name === 'maxConcurrency') {
    const shared = config.downstream[key.host]?.shared;
    const below = hostShareProblem(config, key.host, { maxConcurrency: value, shared }, pair.text);
    if (below) return below;
  }
  const deployed = deployedValue(key, config);
  if (deployed.value === undefined || value <= deployed.value) return undefined;
  return problem(
    pair.text,
    value,
    `is above the deployed ${deployed.name} (${deployed.value}): ${LOWER_ONLY}`,
  );
}

/**
 * The budget's own rule on the worker's reservation, with the new event source maximum: the poller and the
 * direct invokes share it, so below their sum the poller is throttled and its messages reach the dead-letter
 * queue unprocessed.
 */
function workerSettings(
  pairs: readonly Pair[],
  values: ReadonlyMap<string, number>,
  config: FanoutConfig,
  problems: BudgetProblem[],
): WorkerSettings {
  const eventSourceMaxConcurrency = values.get('eventSourceMaxConcurrency');
  const workerReservedConcurrency = values.get('workerReservedConcurrency');
  const given = pairs.some((p) => p.text === 'eventSourceMaxConcurrency');
  if (workerReservedConcurrency !== undefined && (eventSourceMaxConcurrency !== undefined || !given)) {
    const poller = eventSourceMaxConcurrency ?? config.workerMaxConcurrency;
    const { orchestrators, invokeWorkers } = fleetProcesses(config);
    const needed = poller + invokeWorkers;
    if (workerReservedConcurrency < needed) {
      const source =
        eventSourceMaxConcurrency === undefined ? 'workerMaxConcurrency' : 'eventSourceMaxConcurrency';
      problems.push(
        problem(
          'workerReservedConcurrency',
          workerReservedConcurrency,
          `is below ${source} + invokeConcurrency x orchestrators = ${poller} + ${config.invokeConcurrency} x ${orchestrators} = ${needed}: the poller would be throttled, and throttled messages count toward maxReceiveCount and reach the dead-letter queue unprocessed`,
        ),
      );
    }
  }
  return {
    ...(eventSourceMaxConcurrency === undefined ? {} : { eventSourceMaxConcurrency }),
    ...(workerReservedConcurrency === undefined ? {} : { workerReservedConcurrency }),
  };
}

function runLimits(pairs: readonly Pair[], values: ReadonlyMap<string, number>): RunLimits {
  const out: { -readonly [K in keyof RunLimits]: RunLimits[K] } = {};
  const downstream: Record<string, Partial<Record<HostKey, number>>> = {};
  for (const { text, key } of pairs) {
    const value = values.get(text);
    if (value === undefined) continue;
    if (key.kind === 'run') out[key.name] = value;
    else if (key.kind === 'host') downstream[key.host] = { ...downstream[key.host], [key.name]: value };
  }
  return Object.keys(downstream).length > 0 ? { ...out, downstream } : out;
}
