// One concurrency budget: every limit of the service is declared once in FanoutConfig, then checked on its own
// (budget-schema.ts) and against the others (budget-rules.ts) before anything deploys or runs. The
// stack, the functions and the local runtime all call validateBudget, so a bad combination is refused with the
// same message everywhere. planBudget turns the same config into the figures of the deploy table.

import type { FanoutConfig } from '../config.js';
import { assertInteger, InvalidArgumentError } from '../errors.js';
import {
  type BudgetPlan,
  costPerMillion,
  defaultPlanOptions,
  drainTimes,
  type PlanBudgetOptions,
  workerBatch,
} from './budget-plan.js';
import { reservationWarnings } from './budget-reservations.js';
import { concurrencyOf, crossProblems } from './budget-rules.js';
import { BudgetError, type BudgetProblem, fieldProblems } from './budget-schema.js';
import { warningsOf } from './budget-warnings.js';
import { hostPlans } from './host-plans.js';
import { awsPrices } from './prices.js';

export { type FleetSize, fleetProcesses, UNRESERVED_ORCHESTRATORS } from '../fleet.js';
export type { LeaseCost } from './budget-leases.js';
export type { LedgerCost } from './budget-ledger.js';
export type { BudgetPlan, CostPlan, DrainPlan, PlanBudgetOptions } from './budget-plan.js';
export { defaultPlanOptions } from './budget-plan.js';
export {
  type AccountConcurrency,
  type AccountFit,
  accountFit,
  minimumUnreserved,
  reservationLines,
  stackReservations,
} from './budget-reservations.js';
export { concurrencyOf } from './budget-rules.js';
export {
  BUDGET_ERROR_CODE,
  BudgetError,
  type BudgetProblem,
  CONFIG_ENVIRONMENT_MAX_BYTES,
  formatProblem,
  LOG_RETENTION_DAYS,
  SCHEDULE_INPUT_MAX_BYTES,
} from './budget-schema.js';
export type { HostPlan } from './host-plans.js';

/** Every problem of the config, each value on its own and then across values; empty when it is sound. */
export function checkBudget(config: FanoutConfig): BudgetProblem[] {
  const fields = fieldProblems(config);
  if (config === null || typeof config !== 'object') return fields;
  return [...fields, ...crossProblems(config, fields)];
}

/** Throws one BudgetError listing every problem; returns the config when it is sound. */
export function validateBudget(config: FanoutConfig): FanoutConfig {
  const problems = checkBudget(config);
  if (problems.length > 0) throw new BudgetError(problems);
  return config;
}

/**
 * The budget's figures for a config: the worst-case concurrency each downstream host can see and the rate the
 * fleet is held to (each process at its share of the host's limits, lib/downstream), the time
 * to drain `tasks` at `latencyMs` a request on each path, and the AWS cost per million queued tasks. Throws a
 * BudgetError (the one validateBudget throws) when a value is invalid on its own; otherwise problems across
 * values are returned in `problems`, so that a table can show them beside the figures.
 */
export function planBudget(config: FanoutConfig, options: PlanBudgetOptions): BudgetPlan {
  const opts = planOptions(options);
  const fields = fieldProblems(config);
  // The same error validateBudget throws: every problem, not only those that stop the arithmetic.
  if (fields.length > 0) throw new BudgetError([...fields, ...crossProblems(config, fields)]);
  const k = concurrencyOf(config);
  const hosts = hostPlans(config, opts.latencyMs, k);
  const batch = workerBatch(config, opts.latencyMs);
  const cost = costPerMillion(config, opts, hosts);
  return {
    config,
    options: opts,
    concurrency: k,
    hosts,
    drain: drainTimes(config, opts),
    workerBatch: batch,
    cost,
    problems: crossProblems(config, fields),
    warnings: [...warningsOf(config, opts, batch, hosts), ...reservationWarnings(config)],
    prices: awsPrices,
  };
}

function planOptions(options: PlanBudgetOptions): Required<PlanBudgetOptions> {
  const opts = { ...defaultPlanOptions, ...options };
  assertInteger('tasks', opts.tasks);
  assertInteger('bytesPerTask', opts.bytesPerTask);
  for (const name of ['latencyMs', 'awsCallMs'] as const) {
    const value = opts[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new InvalidArgumentError(name, value, 'a finite number above 0');
    }
  }
  return opts;
}
