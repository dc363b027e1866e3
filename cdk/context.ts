// The config and the plan's assumptions from CDK context: cdk.json's "context" holds the defaults, and
// `-c key=value` overrides any of them (`-c workerMaxConcurrency=20`, `-c schedule.enabled=true`,
// `-c 'downstream={"api.example.com":{"maxConcurrency":200}}'`).
import type { Construct } from 'constructs';
import { defaultPlanOptions, type PlanBudgetOptions } from '../lib/budget/index.js';
import type { FanoutConfig } from '../lib/config.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { readConfig } from '../lib/read-config.js';

/** Context keys of the plan printed at synth (not part of the deployed config). */
export const PlanContextKeys = { TASKS: 'plan.tasks', LATENCY_MS: 'plan.latencyMs' } as const;

export function configFromContext(scope: Construct): FanoutConfig {
  return readConfig((key) => scope.node.tryGetContext(key));
}

export function planOptionsFromContext(scope: Construct): PlanBudgetOptions {
  const number = (key: string, fallback: number): number => {
    const value: unknown = scope.node.tryGetContext(key);
    if (value === undefined || value === '') return fallback;
    const parsed = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
    if (typeof parsed !== 'number' || !(parsed > 0))
      throw new InvalidArgumentError(key, value, 'a number above 0');
    return parsed;
  };
  return {
    tasks: number(PlanContextKeys.TASKS, defaultPlanOptions.tasks),
    latencyMs: number(PlanContextKeys.LATENCY_MS, defaultPlanOptions.latencyMs),
  };
}
